"""Email backends for the worker tests, loaded by the worker process by their dotted path."""
import os
import time

from campaigns.delivery.outbox import EmlFileBackend


class HangOnceBackend(EmlFileBackend):
    """The .eml outbox, but the first call of the whole test hangs (a provider that stops
    answering): a marker file beside the outbox says it happened."""

    def send_messages(self, email_messages):
        marker = self.folder.parent / "hung"
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return super().send_messages(email_messages)
        os.close(fd)
        time.sleep(60)
        return super().send_messages(email_messages)
