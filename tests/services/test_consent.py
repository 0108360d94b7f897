"""The consent service: log and current state move together."""
import pytest

from campaigns.models import ConsentEvent, Subscription, Topic
from campaigns.services.consent import consent_record
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_granting_consent_appends_proof_and_sets_the_cached_flag():
    customer = CustomerFactory()

    changed = consent_record(customer=customer, granted=True, source="api", wording_version="v1")

    customer.refresh_from_db()
    assert changed and customer.marketing_consent is True
    event = ConsentEvent.objects.get(customer=customer)
    assert (event.topic, event.granted, event.source, event.wording_version) == (
        Topic.MARKETING, True, "api", "v1"
    )


def test_repeating_the_same_answer_appends_nothing():
    customer = CustomerFactory()
    consent_record(customer=customer, granted=True, source="api")

    changed = consent_record(customer=customer, granted=True, source="api")

    assert changed is False
    assert ConsentEvent.objects.filter(customer=customer).count() == 1


def test_withdrawing_clears_the_flag_and_keeps_both_events():
    customer = CustomerFactory()
    consent_record(customer=customer, granted=True, source="api")

    consent_record(customer=customer, granted=False, source="unsubscribe_link")

    customer.refresh_from_db()
    assert customer.marketing_consent is False
    assert Subscription.objects.get(customer=customer, topic=Topic.MARKETING).subscribed is False
    assert list(
        ConsentEvent.objects.filter(customer=customer).order_by("id").values_list("granted", flat=True)
    ) == [True, False]
