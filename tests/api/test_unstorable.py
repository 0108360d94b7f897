"""Text the database cannot store (NUL, lone surrogates) and numbers JSON cannot carry:
400 naming the field on every endpoint, at any depth, and nothing stored.

PostgreSQL is where NUL used to give a 500; these tests run there in CI's second pass.
"""
import json

import pytest

from campaigns.models import Coupon, Event
from campaigns.storable import NUL_MESSAGE, SURROGATE_MESSAGE, unstorable_find
from tests.api.conftest import PURCHASE, SIGNUP, payload
from tests.api.test_validation import assert_nothing_stored, errors_of
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NUL = "\x00"
LONE = "\ud800"


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"event_id": f"shop{NUL}123"}, "event_id"),
        ({"type": f"signup{NUL}"}, "type"),
        ({"customer__external_id": f"c{NUL}"}, "customer.external_id"),
        ({"customer__email": f"astrid{NUL}@example.se"}, "customer.email"),
        ({"customer__first_name": f"As{NUL}trid"}, "customer.first_name"),
        ({"customer__time_zone": f"Europe/Stockholm{NUL}"}, "customer.time_zone"),
        ({"customer__wording_version": NUL}, "customer.wording_version"),
        ({"customer__attributes": {"size": f"M{NUL}"}}, "customer.attributes.size"),
        ({"properties": {"note": NUL}}, "properties.note"),
        ({"properties": {"a": {"b": [1, {"c": f"x{NUL}"}]}}}, "properties.a.b[1].c"),
        ({"properties": {"a": {f"b{NUL}": 1}}}, "properties.a"),
        ({"properties": {"note": f"x{LONE}"}}, "properties.note"),
        ({"properties": {f"{LONE}": "x"}}, "properties"),
        ({"customer__first_name": f"{LONE}"}, "customer.first_name"),
    ],
)
def test_unstorable_text_anywhere_in_an_event_is_a_400_naming_the_field(api, changes, field):
    response = api.post("events", payload(SIGNUP, **changes))

    [error] = errors_of(response)
    assert error["field"] == field
    assert "index" not in error
    assert "cannot be stored" in error["message"]
    assert_nothing_stored()


def test_the_message_says_which_character_it_is(api):
    nul = api.post("events", payload(SIGNUP, properties={"a": NUL}))
    lone = api.post("events", payload(SIGNUP, properties={"a": LONE}))

    assert errors_of(nul)[0]["message"] == NUL_MESSAGE
    assert errors_of(lone)[0]["message"] == SURROGATE_MESSAGE


def test_a_batch_names_every_bad_item_by_index_and_stores_nothing(api):
    batch = [
        SIGNUP,
        payload(SIGNUP, event_id="e-2", properties={"deep": {"er": [NUL]}}),
        payload(PURCHASE, order__external_id=f"o{NUL}9"),
    ]

    response = api.post("events", batch)

    assert [(e["index"], e["field"]) for e in errors_of(response)] == [
        (1, "properties.deep.er[0]"),
        (2, "order.external_id"),
    ]
    assert_nothing_stored()


def test_a_customer_with_unstorable_text_is_a_400_naming_the_field(api):
    body = {"external_id": "c-1", "email": "a@example.se", "last_name": f"Ek{NUL}",
            "attributes": {f"k{NUL}": "v"}}

    response = api.post("customers", body)

    assert [e["field"] for e in errors_of(response)] == ["last_name", "attributes"]
    assert_nothing_stored()


def test_a_coupon_redeem_with_unstorable_text_is_a_400_naming_the_field(api):
    CustomerFactory(external_id="c-42")
    body = {"code": f"K7QX{NUL}", "customer_external_id": "c-42", "order_id": f"o{LONE}"}

    response = api.post("coupons/redeem", body)

    assert [e["field"] for e in errors_of(response)] == ["code", "order_id"]
    assert not Coupon.objects.exists()


def test_characters_outside_the_basic_plane_escaped_as_a_pair_are_stored(api):
    # json.dumps writes "😀" as the pair \ud83d\ude00: two surrogates that make one character.
    body = json.dumps(payload(SIGNUP, properties={"mood": "😀", "😀": "ok"}))
    assert "\\ud83d\\ude00" in body

    response = api.post("events", body)

    assert response.status_code == 201, response.content
    assert Event.objects.get().properties == {"mood": "😀", "😀": "ok"}


def test_a_backslash_u_that_is_text_is_not_mistaken_for_an_escape(api):
    response = api.post("events", payload(SIGNUP, properties={"path": "C:\\u0000dir"}))

    assert response.status_code == 201, response.content
    assert Event.objects.get().properties == {"path": "C:\\u0000dir"}


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_numbers_that_json_cannot_carry_are_refused(api, number):
    body = json.dumps(payload(SIGNUP, properties={"n": 0})).replace('"n": 0', f'"n": {number}')

    response = api.post("events", body)

    [error] = errors_of(response)
    assert error["field"] == ""
    assert error["message"]
    assert_nothing_stored()


def test_deeply_nested_properties_are_a_400_not_a_500(api):
    deep = "[" * 5000 + "]" * 5000
    body = json.dumps(payload(SIGNUP, properties={"n": 0})).replace('"n": 0', f'"n": {deep}')

    response = api.post("events", body)

    assert errors_of(response)[0]["field"] == ""
    assert_nothing_stored()


def test_unstorable_find_reports_in_document_order_and_skips_under_a_bad_key():
    document = {"a": NUL, "b": [1, LONE, {f"c{NUL}": {"d": NUL}}], "e": "fine"}

    found = unstorable_find(document)

    assert [(p.path, p.message) for p in found] == [
        (("a",), NUL_MESSAGE),
        (("b", 1), SURROGATE_MESSAGE),
        (("b", 2), "An object key here: c" + NUL_MESSAGE[1:]),
    ]
