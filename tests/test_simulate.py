"""`manage.py simulate`: a span of virtual time, real or dry."""
import datetime as dt
import io
from email.utils import parsedate_to_datetime

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from campaigns.models import Enrollment, Message
from campaigns.services.consent import consent_record
from tests.factories import CustomerFactory, EventFactory

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc


def signups(count, *, no_consent=0):
    start = dt.datetime(2026, 4, 1, 6, 0, tzinfo=UTC)
    for i in range(count + no_consent):
        customer = CustomerFactory(time_zone="Europe/Stockholm")
        if i < count:
            consent_record(customer=customer, granted=True, source="api")
        EventFactory(customer=customer, type="signup", occurred_at=start + dt.timedelta(hours=5 * i))


def simulate(*args):
    out = io.StringIO()
    call_command("simulate", *args, stdout=out)
    return out.getvalue()


def test_a_simulated_span_sends_dated_mail_and_prints_a_summary(welcome, policy):
    signups(3, no_consent=1)

    output = simulate("--start", "2026-04-01T00:00:00Z", "--end", "2026-04-03T00:00:00Z", "--step", "15m")

    assert "Welcome: enrolled 4, sent 3, deferred 0, skipped 1 (no_consent: 1)" in output
    dates = sorted(parsedate_to_datetime(m.extra_headers["Date"]) for m in mail.outbox)
    # 06:00 and 11:00 UTC go at once; 16:00 UTC is 18:00 in Stockholm, also fine.
    assert dates == [dt.datetime(2026, 4, 1, h, 0, tzinfo=UTC) for h in (6, 11, 16)]


def test_quiet_hours_show_as_deferrals_in_the_summary(welcome, policy):
    customer = CustomerFactory(time_zone="Europe/Stockholm")
    consent_record(customer=customer, granted=True, source="api")
    EventFactory(customer=customer, type="signup", occurred_at=dt.datetime(2026, 4, 1, 21, 0, tzinfo=UTC))

    output = simulate("--start", "2026-04-01T20:00:00Z", "--end", "2026-04-02T12:00:00Z", "--step", "1h")

    assert "Welcome: enrolled 1, sent 1, deferred 1" in output
    sent = parsedate_to_datetime(mail.outbox[0].extra_headers["Date"])
    assert sent == dt.datetime(2026, 4, 2, 6, 0, tzinfo=UTC)  # 08:00 summer time in Stockholm


# The dry run's sandbox reads on its own connection: the data must be committed.
@pytest.mark.django_db(transaction=True)
def test_a_dry_run_lists_who_would_get_what_and_stores_nothing(welcome, policy):
    signups(2)

    output = simulate("--start", "2026-04-01", "--end", "2026-04-02", "--dry-run")

    assert "2 email(s) would be sent" in output
    assert output.count("[welcome]") == 2
    assert "***@example.se" in output
    assert mail.outbox == []
    assert Enrollment.objects.count() == 0 and Message.objects.count() == 0


@pytest.mark.parametrize("args, message", [
    (["--start", "2026-04-02", "--end", "2026-04-01"], "--end must be after --start"),
    (["--start", "yesterday", "--end", "2026-04-01"], "--start 'yesterday'"),
    (["--start", "2026-04-01", "--end", "2026-04-02", "--step", "5x"], "--step '5x'"),
])
def test_bad_arguments_are_explained(args, message):
    with pytest.raises(CommandError, match=message):
        simulate(*args)
