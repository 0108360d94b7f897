"""A real worker (prefork, as deployed) stops a send task at its soft time limit, and no
message is lost: the hung one turns `unknown`, the others go out in the next task."""
import subprocess
import sys
from collections import Counter

import pytest

from campaigns.models import Message, MessageLog
from tests.factories import EventFactory
from tests.helpers import consenting_customer
from tests.integration.test_celery_worker import ROOT, wait_for, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_send_task_past_its_soft_limit_loses_no_message(welcome, tmp_path):
    customers = [consenting_customer(locale="en") for _ in range(4)]
    for customer in customers:
        EventFactory(customer=customer, type="signup", occurred_at=customer.created_at)
    env = worker_env(
        tmp_path, EMAIL_BACKEND="tests.integration.backends.HangOnceBackend",
        CELERY_TASK_TIME_LIMITS="campaigns.send_due=3:30", SEND_IN_FLIGHT="1",
        CLAIM_LEASE_SECONDS="5",
    )
    with open(tmp_path / "worker.log", "w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "loyaltycrm", "worker", "-B",
             "-Q", "plan,send,default", "--pool=prefork", "--concurrency=1",
             "--loglevel=INFO", "-s", str(tmp_path / "beat-schedule")],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            settled = wait_for(lambda: Counter(Message.objects.values_list("state", flat=True))
                               == {"sent": 3, "unknown": 1}, timeout=90)
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    text = (tmp_path / "worker.log").read_text()
    states = Counter(Message.objects.values_list("state", flat=True))
    assert settled, f"{states}; worker log:\n{text[-3000:]}"
    assert "SoftTimeLimitExceeded" in text
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3
    # The three it had not handed over when it stopped went back to pending, then out.
    assert MessageLog.objects.filter(reason="interrupted").count() == 3
