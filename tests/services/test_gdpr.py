"""Access export (GD-10) and erasure that never leads to re-mailing (GD-11, GD-12, PE-1)."""
import json

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.core import mail
from django.db import models

from campaigns.models import (
    Referral, ReferralClick, ReferralCode,
    ConsentEvent, Customer, Enrollment, Event, Message, MessageEvent, MessageLog, Order,
    PrivacyRequest, SegmentMembership, Suppression, SurveyResponse,
)
from campaigns.services import gdpr
from campaigns.services.consent import email_hash, suppression_lift
from campaigns.services.customers import customer_upsert
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due
from tests.factories import CustomerFactory, EventFactory
from tests.privacy_data import EMAIL, customer_with_everything

pytestmark = pytest.mark.django_db


def _customer_linked_models() -> set[type[models.Model]]:
    """Every model with a foreign key to Customer, or to a model that has one (a message,
    an enrollment, an order...), found by walking the app registry. A proxy model reads
    its concrete model's rows, which the export holds already."""
    linked = {Customer}
    changed = True
    while changed:
        changed = False
        for model in apps.get_models():
            if model in linked or model._meta.proxy:
                continue
            if any(f.many_to_one or f.one_to_one for f in model._meta.concrete_fields
                   if f.is_relation and f.related_model in linked):
                linked.add(model)
                changed = True
    return linked


def test_the_export_covers_every_model_that_reaches_the_customer():
    linked = _customer_linked_models()

    missing = sorted(m.__name__ for m in linked - gdpr.EXPORTED_MODELS)

    assert {Message, MessageLog, MessageEvent, Enrollment} <= linked  # the walk goes deep
    assert missing == [], f"add these to services.gdpr.EXPORT_SECTIONS: {missing}"


def test_the_export_holds_everything_about_the_customer(frozen_clock, welcome, policy):
    customer = customer_with_everything(frozen_clock.now)
    Suppression.objects.create(email_hash=email_hash(EMAIL), reason="bounced")

    document = json.loads(gdpr.export_json(gdpr.customer_export(customer=customer)))

    for section in gdpr.EXPORT_SECTIONS:  # each populated, none forgotten
        assert document[section.name], section.name
    assert document["customer"]["email"] == EMAIL
    assert document["customer"]["attributes"] == {"shoe_size": 38}
    message = document["messages"][0]
    assert (message["template"], message["state"], message["campaign"]) == (
        "Welcome", "sent", "Welcome")
    assert message["sent_at"].startswith("2026-03-02T09:00:00")
    assert "provider_message_id" in message
    assert document["consent_log"][0]["ip_address"] == "203.0.113.7"
    assert document["survey_responses"][0]["comment"] == "Astrid here: great shop"
    assert document["segment_memberships"][0]["segment"] == "Shoe lovers"
    assert document["suppression"]["suppressed"] is True
    assert document["suppression"]["reason"] == "bounced"
    facts = document["about_this_export"]
    assert {"purposes", "recipients", "retention", "your_rights", "source"} <= set(facts)
    assert any("IMY" in right for right in facts["your_rights"])


def _everything_text() -> str:
    """Every row of every model, as text: to search for leftovers of a person."""
    parts = []
    for model in apps.get_models():
        for row in model.objects.values():
            parts.append(json.dumps(row, default=str))
    return "\n".join(parts)


class TestErase:
    def test_removes_every_personal_detail_and_keeps_the_numbers(self, frozen_clock, welcome,
                                                                   policy):
        customer = customer_with_everything(frozen_clock.now)
        staff = User.objects.create_user("dpo", is_staff=True)
        LogEntry.objects.log_actions(staff.pk, [customer], CHANGE, change_message="Fixed Astrid")

        record = gdpr.customer_erase(customer=customer, actor="command")

        text = _everything_text()
        for personal in ("Astrid", "Lindqvist", "astrid.lindqvist", "203.0.113.7", "Firefox",
                         "shoe_size", "shop-astrid", "shop-order-77", "shop-purchase-77",
                         "great shop", "Welcome, Astrid"):
            assert personal not in text, personal
        customer.refresh_from_db()
        assert customer.erased_at == frozen_clock.now
        assert customer.best_hour is None  # learned from their behaviour: it goes too
        assert customer.external_id == f"erased-{customer.pk}"
        assert (customer.order_count, Order.objects.get().amount) == (0, 499)
        # The shop's three, and the survey.promoter event of the NPS 9 answer.
        assert Event.objects.filter(customer=customer).count() == 4
        assert Message.objects.get(customer=customer).state == "sent"
        assert SurveyResponse.objects.get().score == 9
        assert not SegmentMembership.objects.exists()
        assert not customer.marketing_consent
        assert Suppression.objects.get().email_hash == email_hash(EMAIL)
        assert Suppression.objects.get().reason == "erased"
        assert (record.kind, record.actor, record.customer_id) == ("erasure", "command",
                                                                    customer.pk)
        assert record.counts["events"] == 4 and record.counts["survey_comments"] == 1
        # The referrals stay counted (one made, one received), without the link.
        assert not ReferralCode.objects.exists()
        assert ReferralClick.objects.get().code is None
        assert list(Referral.objects.order_by("pk").values_list("status", "referrer_id")) == [
            ("counted", None), ("counted", None)]

    def test_twice_changes_nothing_the_second_time(self, frozen_clock, welcome, policy):
        customer = customer_with_everything(frozen_clock.now)
        gdpr.customer_erase(customer=customer, actor="command")
        before = _everything_text()

        frozen_clock.advance(days=1)
        second = gdpr.customer_erase(customer=customer, actor="command")

        assert second is None
        assert _everything_text() == before
        assert PrivacyRequest.objects.count() == 1

    def test_a_bounce_or_complaint_keeps_its_reason(self):
        customer = CustomerFactory(email=EMAIL)
        Suppression.objects.create(email_hash=email_hash(EMAIL), reason="complained")

        gdpr.customer_erase(customer=customer, actor="command")

        assert list(Suppression.objects.values_list("reason", flat=True)) == ["complained"]

    def test_messages_not_yet_sent_are_cancelled_and_journeys_end(self, frozen_clock, welcome,
                                                                  policy):
        customer = CustomerFactory(email=EMAIL)
        EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)
        assert scheduler_tick(now=frozen_clock.now).due == 1  # queued for the senders

        gdpr.customer_erase(customer=customer, actor="command")
        messages_send_due(now=frozen_clock.now)

        message = Message.objects.get(customer=customer)
        assert (message.state, message.reason) == ("skipped", "erased")
        assert Enrollment.objects.get().exit_reason == "erased"
        assert mail.outbox == []

    def test_the_sender_skips_a_queued_message_of_an_erased_customer(self, frozen_clock,
                                                                      welcome, policy):
        customer = CustomerFactory(email=EMAIL, marketing_consent=True)
        EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)
        scheduler_tick(now=frozen_clock.now)
        # Erased behind the outbox's back (the service itself also cancels pending rows).
        Customer.objects.filter(pk=customer.pk).update(email="", erased_at=frozen_clock.now)

        messages_send_due(now=frozen_clock.now)

        assert Message.objects.get(customer=customer).reason == "erased"
        assert mail.outbox == []

    def test_the_suppression_outlives_the_customer_row(self):
        customer = CustomerFactory(email=EMAIL)
        gdpr.customer_erase(customer=customer, actor="command")

        Customer.objects.filter(pk=customer.pk).delete()

        assert Suppression.objects.filter(email_hash=email_hash(EMAIL)).exists()


class TestTheSamePersonComingBack:
    def test_an_api_upsert_of_the_old_external_id_is_a_new_suppressed_customer(
            self, frozen_clock, welcome, policy):
        old = customer_with_everything(frozen_clock.now)
        gdpr.customer_erase(customer=old, actor="command")
        mail.outbox.clear()  # the welcome sent before the erasure

        frozen_clock.advance(days=2)
        new, created = customer_upsert(data={
            "external_id": "shop-astrid", "email": EMAIL.upper(), "first_name": "Astrid",
            "consent": {"marketing": True}}, source="import")
        EventFactory(customer=new, type="signup", occurred_at=frozen_clock.now)
        scheduler_tick(now=frozen_clock.now)
        messages_send_due(now=frozen_clock.now)

        old.refresh_from_db()
        assert created and new.pk != old.pk
        assert (old.email, old.first_name, old.attributes) == ("", "", {})  # not refilled
        # The shop's consent is logged but not effective: the address stays suppressed.
        assert ConsentEvent.objects.filter(customer=new, granted=True).exists()
        assert Message.objects.get(customer=new).reason == "suppressed"
        assert mail.outbox == []

    def test_a_csv_re_import_brings_the_person_back_suppressed(
            self, frozen_clock, welcome, policy, tmp_path):
        import io

        from campaigns.services.imports import RejectsWriter, import_run

        old = customer_with_everything(frozen_clock.now)
        gdpr.customer_erase(customer=old, actor="command")
        mail.outbox.clear()

        frozen_clock.advance(days=2)
        csv_file = (
            "external_id,email,first_name,marketing_consent,marketing_consent_at\n"
            f"shop-astrid,{EMAIL},Astrid,true,{frozen_clock.now.isoformat()}\n"
        ).encode()
        report = import_run(kind="customers", stream=io.BytesIO(csv_file),
                            rejects=RejectsWriter(tmp_path / "rejects.csv"))
        new = Customer.objects.get(external_id="shop-astrid")
        EventFactory(customer=new, type="signup", occurred_at=frozen_clock.now)
        scheduler_tick(now=frozen_clock.now)
        messages_send_due(now=frozen_clock.now)

        old.refresh_from_db()
        assert report.created == 1 and new.pk != old.pk and old.email == ""
        assert ConsentEvent.objects.filter(customer=new, granted=True, source="import").exists()
        assert Message.objects.get(customer=new).reason == "suppressed"
        assert mail.outbox == []

    def test_opting_in_again_through_the_confirmation_lifts_it(self, frozen_clock, welcome,
                                                               policy):
        gdpr.customer_erase(customer=CustomerFactory(email=EMAIL), actor="command")

        assert suppression_lift(email=EMAIL) is True
        assert not Suppression.objects.exists()


def test_an_erasure_request_for_an_unknown_address_suppresses_it():
    assert gdpr.erased_address_suppress(email=EMAIL) is True
    assert gdpr.erased_address_suppress(email=EMAIL) is False
    assert Suppression.objects.get().reason == "erased"
