"""Typed custom attributes through the API: declared keys coerced, bad values a 400."""

import pytest

from campaigns.models import AttributeDefinition, Customer
from tests.api.conftest import SIGNUP, payload
from tests.api.test_customers import ASTRID

pytestmark = pytest.mark.django_db


def test_declared_attributes_are_stored_as_their_type(api):
    AttributeDefinition.objects.create(key="shoe_size", type="number")
    AttributeDefinition.objects.create(key="vip", type="boolean")
    AttributeDefinition.objects.create(key="birthday", type="date")

    response = api.post("customers", {**ASTRID, "attributes": {
        "shoe_size": "38", "vip": "yes", "birthday": "1990-05-17", "colour": "green"}})

    assert response.status_code == 201
    assert Customer.objects.get().attributes == {
        "shoe_size": 38, "vip": True, "birthday": "1990-05-17", "colour": "green"}


def test_an_attribute_that_does_not_fit_its_type_is_refused_with_400_naming_it(api):
    AttributeDefinition.objects.create(key="shoe_size", type="number")
    AttributeDefinition.objects.create(key="birthday", type="date")

    response = api.post("customers", {**ASTRID, "attributes": {
        "shoe_size": "huge", "birthday": "17/05/1990"}})

    assert response.status_code == 400
    assert response.json() == {"errors": [
        {"field": "attributes.shoe_size", "message": "expected a number, got 'huge'"},
        {"field": "attributes.birthday",
         "message": "expected a date as YYYY-MM-DD, got '17/05/1990'"},
    ]}
    assert not Customer.objects.exists()


def test_a_bad_attribute_in_a_batch_of_events_is_reported_by_index(api):
    from campaigns.models import AttributeDefinition
    AttributeDefinition.objects.create(key="vip", type="boolean")
    good = payload(SIGNUP, event_id="e-1", customer__attributes={"vip": "no"})
    bad = payload(SIGNUP, event_id="e-2", customer__external_id="c-43",
                  customer__attributes={"vip": "perhaps"})

    response = api.post("events", [good, bad])

    assert response.status_code == 400
    assert response.json()["errors"] == [{
        "index": 1, "field": "customer.attributes.vip",
        "message": "expected true or false, got 'perhaps'"}]
    assert not Customer.objects.exists()
