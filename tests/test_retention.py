"""Retention (GD-13): every table with personal data declares a period; the purge keeps it."""
import datetime as dt

import pytest
from django.apps import apps
from django.core.files.base import ContentFile

from campaigns import retention
from campaigns.models import (
    ConsentEvent, Customer, Event, ImportJob, Message, MessageEvent, MessageLog, PrivacyRequest,
    Suppression, SurveyResponse,
)
from campaigns.services.consent import consent_record, email_hash
from campaigns.services.retention import retention_purge
from campaigns.tasks import retention_purge as retention_purge_task
from tests.factories import CustomerFactory, EventFactory, OrderFactory
from tests.privacy_data import customer_with_everything

DAY = dt.timedelta(days=1)


def test_every_model_of_the_app_declares_a_retention_or_holds_no_personal_data():
    declared = {rule.model for rule in retention.RETENTION.values()}
    # A proxy (e.g. the deliverability view of provider events) shares its model's table.
    models = {m._meta.label for m in apps.get_app_config("campaigns").get_models()
              if not m._meta.proxy}

    undecided = sorted(models - declared - retention.NO_PERSONAL_DATA)

    assert undecided == [], f"declare these in campaigns/retention.py: {undecided}"
    assert not declared & retention.NO_PERSONAL_DATA
    assert declared <= models  # no stale names


def test_every_model_reaching_a_customer_is_declared_as_personal():
    from tests.services.test_gdpr import _customer_linked_models

    linked = {m._meta.label for m in _customer_linked_models() if m._meta.app_label == "campaigns"}

    assert not linked & retention.NO_PERSONAL_DATA


def test_an_override_from_the_environment_wins(settings):
    settings.RETENTION_DAYS = {"message_events": "30", "events": "none"}

    assert retention.retention_days("message_events") == 30
    assert retention.retention_days("events") is None
    assert retention.retention_days("message_log") == 730


@pytest.mark.parametrize("overrides, problem", [
    ({"message_event": "30"}, "names 'message_event'"),
    ({"events": "0"}, "give a number of days above 0"),
    ({"events": "soon"}, "give a number of days above 0"),
    ({"consent_log": "30"}, "no period of its own"),
])
def test_bad_overrides_are_named(settings, overrides, problem):
    settings.RETENTION_DAYS = overrides

    assert problem in " ".join(retention.retention_check())


@pytest.mark.django_db
class TestPurge:
    def test_deletes_and_anonymises_exactly_what_is_past_its_period(self, frozen_clock, welcome,
                                                                     policy):
        customer = customer_with_everything(frozen_clock.now)
        start = frozen_clock.now

        frozen_clock.set(start + 180 * DAY)  # the provider events are exactly 180 days old
        assert retention_purge(now=frozen_clock.now)["message_events"] == 0
        frozen_clock.set(start + 181 * DAY)
        report = retention_purge(now=frozen_clock.now)

        assert report["message_events"] == 1 and not MessageEvent.objects.exists()
        # The shop's three events and the promoter event of the NPS 9 answer.
        assert MessageLog.objects.exists() and Event.objects.count() == 4

        frozen_clock.set(start + 731 * DAY)
        report = retention_purge(now=frozen_clock.now)

        assert not MessageLog.objects.exists()
        assert Message.objects.get().subject == "" and Message.objects.get().state == "sent"
        assert SurveyResponse.objects.get().comment == ""
        assert SurveyResponse.objects.get().score == 9
        assert Event.objects.count() == 4  # three years
        assert ConsentEvent.objects.filter(customer=customer).exists()  # kept with customer
        assert (report["messages"], report["survey_comments"]) == (1, 1)

        frozen_clock.set(start + 1096 * DAY)
        retention_purge(now=frozen_clock.now)

        assert not Event.objects.exists()
        customer.refresh_from_db()
        assert customer.erased_at is None  # a buyer is never "inactive" by this rule

    def test_a_second_run_changes_nothing(self, frozen_clock, welcome, policy):
        customer_with_everything(frozen_clock.now)
        frozen_clock.advance(days=800)
        retention_purge(now=frozen_clock.now)

        assert set(retention_purge(now=frozen_clock.now).values()) == {0}

    def test_inactive_prospects_are_erased_and_only_a_no_stays_suppressed(self, frozen_clock):
        said_yes = CustomerFactory(email="yes@example.se", created_at=frozen_clock.now)
        consent_record(customer=said_yes, granted=True, source="api")
        said_no = CustomerFactory(email="no@example.se", created_at=frozen_clock.now)
        consent_record(customer=said_no, granted=True, source="api")
        consent_record(customer=said_no, granted=False, source="unsubscribe_link")
        active = CustomerFactory(created_at=frozen_clock.now)
        buyer = CustomerFactory(created_at=frozen_clock.now, order_count=1,
                                last_order_at=frozen_clock.now)
        OrderFactory(customer=buyer)
        updated = CustomerFactory(created_at=frozen_clock.now)

        frozen_clock.advance(days=3 * 365 + 1)
        EventFactory(customer=active, occurred_at=frozen_clock.now - 10 * DAY)
        Customer.objects.filter(pk=updated.pk).update(updated_at=frozen_clock.now - DAY)
        report = retention_purge(now=frozen_clock.now)

        erased = set(Customer.objects.filter(erased_at__isnull=False).values_list("pk", flat=True))
        assert erased == {said_yes.pk, said_no.pk} and report["customers"] == 2
        assert list(Suppression.objects.values_list("email_hash", flat=True)) == [
            email_hash("no@example.se")]
        assert set(PrivacyRequest.objects.values_list("actor", flat=True)) == {"retention"}

    def test_old_imports_go_with_their_files(self, frozen_clock, settings, tmp_path):
        settings.MEDIA_ROOT = tmp_path
        job = ImportJob.objects.create(kind="customers", created_at=frozen_clock.now)
        job.file.save("people.csv", ContentFile(b"email\nx@example.se\n"))
        path = job.file.path

        frozen_clock.advance(days=31)
        retention_purge_task()  # the nightly task, through Celery (eager in tests)

        assert not ImportJob.objects.exists()
        assert not (tmp_path / path).exists()


def test_the_purge_runs_nightly_from_beat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["retention-purge"]

    assert entry["task"] == "campaigns.retention_purge"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({3}, {45})
