"""Segment admin: bad rules refused with the message, live count endpoint, explanation, refresh."""
import html
import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from campaigns.models import Segment, SegmentMembership
from campaigns.services.demo import DEMO_SEGMENTS
from campaigns.selectors.segments import segment_rule_errors
from tests.factories import CustomerFactory

ADD = reverse("admin:campaigns_segment_add")
PREVIEW = reverse("admin:campaigns_segment_preview")
CHANGELIST = reverse("admin:campaigns_segment_changelist")
SWEDES = {"field": "country", "op": "is", "value": "SE"}


def page_text(response) -> str:
    text = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html.unescape(text))


def preview(client, rule, **extra):
    return client.post(PREVIEW, json.dumps({"rule": rule}), content_type="application/json", **extra)


@pytest.fixture
def swedes(db):
    return [CustomerFactory(country="SE", first_name=f"Swede{i}") for i in range(12)] + [
        CustomerFactory(country="NO")]


def test_the_demo_segments_are_valid_rules(db):
    for rule in DEMO_SEGMENTS.values():
        assert segment_rule_errors(rule) == []


def test_a_bad_rule_is_refused_at_save_with_the_marketers_message(admin_client):
    rule = {"all": [SWEDES, {"any": [{"field": "tier", "op": "is", "value": "gold"},
                                     {"field": "signed_up_at", "op": "after", "value": 42}]}]}

    response = admin_client.post(ADD, {"name": "Broken", "rule": json.dumps(rule)})

    assert response.status_code == 200
    assert ("Condition 2 in 'any' group 2: 'signed up' is a date; 42 is not a date"
            in page_text(response))
    assert not Segment.objects.exists()


def test_invalid_json_is_refused_in_words(admin_client):
    response = admin_client.post(ADD, {"name": "Broken", "rule": '{"all": ['})
    assert "The rule is not valid JSON" in page_text(response)
    assert not Segment.objects.exists()


def test_a_good_rule_is_saved_and_the_builder_gets_the_catalogue(admin_client):
    response = admin_client.post(ADD, {"name": "Swedes", "rule": json.dumps(SWEDES)})
    assert response.status_code == 302
    segment = Segment.objects.get(name="Swedes")
    assert segment.rule == SWEDES

    page = admin_client.get(reverse("admin:campaigns_segment_change", args=[segment.pk]))
    body = page.content.decode()
    assert 'id="segment-catalogue"' in body and "campaigns/segment_builder.js" in body
    assert f'data-preview-url="{PREVIEW}"' in body


def test_the_catalogue_includes_custom_attributes(admin_client, db):
    from campaigns.models import AttributeDefinition

    AttributeDefinition.objects.create(key="shoe_size", type="number", label="Shoe size")
    body = admin_client.get(ADD).content.decode()
    catalogue = json.loads(re.search(r'id="segment-catalogue"[^>]*>(.*?)</script>', body, re.S).group(1))
    attribute = next(f for f in catalogue["fields"] if f["key"] == "attribute:shoe_size")
    assert attribute["type"] == "number" and ">=" in attribute["operators"]
    assert {"key", "label", "group", "operators"} <= set(catalogue["fields"][0])


def test_the_live_count_answers_the_count_and_ten_customers(admin_client, swedes):
    data = preview(admin_client, SWEDES).json()
    assert data["count"] == 12
    assert len(data["sample"]) == 10
    first = data["sample"][0]
    assert first["country"] == "SE" and first["email"].endswith("@example.se")
    assert first["url"].startswith("/admin/campaigns/customer/")


def test_the_live_count_answers_errors(admin_client, db):
    data = preview(admin_client, {"all": [{"field": "country", "op": "between", "value": 1}]}).json()
    assert data == {"errors": [
        "Condition 1: 'country' is a choice; 'between' does not apply to it "
        "(use one of: is, is not, is one of, is none of, is empty / unknown, is set / known)"]}
    assert preview(admin_client, {}).json() == {
        "errors": ["The rule: is empty: add at least one condition"]}


def test_the_live_count_refuses_non_staff_and_checks_csrf(db, django_user_model, swedes):
    user = django_user_model.objects.create_user("shopper", password="pw")
    client = Client()
    client.force_login(user)
    response = preview(client, SWEDES)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert b"count" not in response.content

    anonymous = preview(Client(), SWEDES)
    assert anonymous.status_code == 302

    staff = django_user_model.objects.create_user("intern", password="pw", is_staff=True)
    client.force_login(staff)
    assert preview(client, SWEDES).status_code == 403  # staff without segment permission

    staff.user_permissions.add(Permission.objects.get(codename="view_segment"))
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff)
    assert preview(strict, SWEDES).status_code == 403  # no CSRF token
    strict.get(CHANGELIST)  # sets the CSRF cookie
    token = strict.cookies["csrftoken"].value
    assert preview(strict, SWEDES, HTTP_X_CSRFTOKEN=token).json()["count"] == 12


def test_the_live_count_wants_post_and_json(admin_client, db):
    assert admin_client.get(PREVIEW).status_code == 405
    bad = admin_client.post(PREVIEW, "not json", content_type="application/json")
    assert bad.status_code == 400


def test_the_explanation_page(admin_client, swedes):
    segment = Segment.objects.create(name="Swedes", rule=SWEDES)
    swede, norwegian = swedes[0], swedes[-1]

    inside = admin_client.get(reverse("admin:campaigns_segment_explain", args=[segment.pk, swede.pk]))
    outside = admin_client.get(reverse("admin:campaigns_segment_explain", args=[segment.pk, norwegian.pk]))

    assert "In the segment. ✔ holds country is SE SE ✔ holds" in page_text(inside)
    assert "Not in the segment. ✘ does not hold country is SE NO ✘ does not hold" in page_text(outside)
    missing = admin_client.get(reverse("admin:campaigns_segment_explain", args=[segment.pk, 999999]))
    assert missing.status_code == 404


def test_the_explanation_page_of_a_segment_whose_rule_broke(admin_client, swedes):
    segment = Segment.objects.create(name="Old", rule={"attribute": "gone", "op": "is_set"})
    response = admin_client.get(reverse("admin:campaigns_segment_explain", args=[segment.pk, swedes[0].pk]))
    assert "there is no custom attribute \"gone\"" in page_text(response)


def test_refresh_members_now(admin_client, swedes):
    segment = Segment.objects.create(name="Swedes", rule=SWEDES)
    broken = Segment.objects.create(name="Broken", rule={"field": "nope", "op": "is", "value": 1})

    response = admin_client.post(CHANGELIST, {"action": "refresh_members",
                                              "_selected_action": [segment.pk, broken.pk]}, follow=True)

    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert "“Swedes”: 12 members, 12 entered." in messages
    assert any(m.startswith("“Broken” was not refreshed: Condition") or
               m.startswith("“Broken” was not refreshed: The rule") for m in messages)
    assert SegmentMembership.objects.filter(segment=segment).count() == 12
    listing = page_text(admin_client.get(CHANGELIST))
    assert "Swedes 12" in listing
