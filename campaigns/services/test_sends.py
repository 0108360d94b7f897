"""Test sends: a draft template rendered for a customer (or the sample) and mailed to a
staff member, marked as a test, outside the outbox.

A test send is not a message: no Message, MessageLog or Enrollment row, so it counts in no
statistics, frequency cap or customer history. Its links are the sample's, signed for no
real message or customer, so a tester clicking "unsubscribe" or a survey score changes
nothing. It goes only to staff addresses (`template_test_recipients`): it may carry a real
customer's data and goes out under the shop's sending reputation, so it must not become a
way to mail anyone else. Each user may send `TEST_SENDS_PER_HOUR` an hour (throttle.py).
"""
import dataclasses
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from campaigns import clock
from campaigns.delivery.messages import email_build
from campaigns.services.sending.handover import site_domain
from campaigns.throttle import public_rate_check

TEST_HEADER = "X-LoyaltyCRM-Test"


class SendTestRefused(Exception):
    """Why a test send was not sent, in words for the page; `field` names the input."""

    def __init__(self, message: str, *, field: str = "", retry_after: int = 0):
        super().__init__(message)
        self.field = field
        self.retry_after = retry_after


@dataclasses.dataclass(frozen=True)
class SendTestResult:
    to: str
    subject: str


def template_test_recipients(*, user) -> list[str]:
    """The addresses a user may send a test to: their own first, then other active staff."""
    own = (user.email or "").strip()
    others = (get_user_model().objects.filter(is_staff=True, is_active=True)
              .exclude(email="").exclude(pk=user.pk).order_by("email")
              .values_list("email", flat=True).distinct())
    return [address for address in [own, *others] if address]


def template_test_send(*, user, to: str, rendered: dict) -> SendTestResult:
    """Mail the rendered parts to `to` through the configured email backend, marked as a
    test. Raises SendTestRefused (not a staff address, over the hourly limit)."""
    if to not in template_test_recipients(user=user):
        raise SendTestRefused(_("A test can only go to your own address or a colleague's "
                                "with access to this admin."), field="to")
    verdict = public_rate_check(limits=[("test-send", str(user.pk), settings.TEST_SENDS_PER_HOUR)])
    if not verdict.allowed:
        raise SendTestRefused(
            _("You have sent %(count)s tests in the last hour, the most allowed. Try again in "
              "%(minutes)s minutes.") % {"count": settings.TEST_SENDS_PER_HOUR,
                                         "minutes": max(1, verdict.retry_after // 60)},
            retry_after=verdict.retry_after)
    subject = _("[TEST] %(subject)s") % {"subject": rendered["subject"]}
    email = email_build(
        rendered={**rendered, "subject": subject}, to=to, from_email=settings.DEFAULT_FROM_EMAIL,
        sent_at=clock.now(), message_uuid=f"test-{uuid.uuid4()}", domain=site_domain(),
        unsubscribe_url=None, tags=["test-send"],
    )
    email.extra_headers[TEST_HEADER] = "1"
    email.send()
    return SendTestResult(to=to, subject=subject)
