"""anymail's test backend for benchmarks: it keeps the outbox short as it goes.

The test backend looks each message up in `django.core.mail.outbox` with list.index
(O(n)); a benchmark that let the outbox grow would partly measure that. A real backend
keeps nothing.
"""
from anymail.backends.test import EmailBackend as TestBackend
from django.core import mail


class EmailBackend(TestBackend):
    def send_messages(self, email_messages):
        if len(getattr(mail, "outbox", [])) > 200:
            del mail.outbox[:]
        return super().send_messages(email_messages)
