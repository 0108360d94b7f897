"""Personal data in the admin only for staff allowed to see customers (view_customer): a
marketer who may view segments, campaigns, templates or the dashboard sees counts, never
a person."""
import json

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from campaigns.models import (
    Campaign, Coupon, Customer, Enrollment, ErasureRequest, ImportJob, Message, MessageEvent,
    PrivacyRequest, Segment, SubscriptionRequest,
)

RULE = {"field": "country", "op": "is", "value": "SE"}
# The admins whose rows are about one person, with the model permission that opens them.
PERSONAL = ["message", "enrollment", "messageevent", "consentevent", "subscriptionrequest",
            "erasurerequest", "detractoranswer", "pointsentry", "surveyresponse", "coupon",
            "importjob", "privacyrequest", "order", "event"]


def staff(*codenames: str) -> Client:
    user = User.objects.create_user(f"staff-{User.objects.count()}", password="pw",
                                    is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def emails_in(content: bytes) -> list[str]:
    text = content.decode()
    return [e for e in Customer.objects.exclude(email="").values_list("email", flat=True)
            if e in text]


@pytest.fixture
def segment(shop):
    return Segment.objects.create(name="Swedes", rule=RULE)


def test_a_segment_viewer_sees_why_only_with_the_customer_permission(segment):
    customer = Customer.objects.filter(country="SE").exclude(email="").first()
    url = reverse("admin:campaigns_segment_explain", args=[segment.pk, customer.pk])

    assert staff("view_segment").get(url).status_code == 403
    allowed = staff("view_segment", "view_customer").get(url)
    assert allowed.status_code == 200
    assert customer.email in allowed.content.decode()


def test_a_segment_viewer_gets_the_count_without_the_sample(segment):
    url = reverse("admin:campaigns_segment_preview")
    body = json.dumps({"rule": RULE})

    counted = staff("view_segment").post(url, body, content_type="application/json")
    shown = staff("view_segment", "view_customer").post(url, body, content_type="application/json")

    assert counted.json()["count"] == shown.json()["count"] > 0
    assert counted.json()["sample"] == [] and emails_in(counted.content) == []
    assert shown.json()["sample"] and emails_in(shown.content)


@pytest.mark.parametrize("model", PERSONAL)
def test_pages_about_a_person_need_the_customer_permission(shop, model):
    url = reverse(f"admin:campaigns_{model}_changelist")

    assert staff(f"view_{model}").get(url).status_code == 403
    assert staff(f"view_{model}", "view_customer").get(url).status_code == 200


@pytest.mark.parametrize("model,obj", [
    ("message", lambda: Message.objects.first()),
    ("enrollment", lambda: Enrollment.objects.first()),
    ("messageevent", lambda: MessageEvent.objects.first()),
    ("subscriptionrequest", lambda: SubscriptionRequest.objects.first()),
    ("erasurerequest", lambda: ErasureRequest.objects.first()),
    ("coupon", lambda: Coupon.objects.first()),
    ("privacyrequest", lambda: PrivacyRequest.objects.first()),
    ("importjob", lambda: ImportJob.objects.first()),
])
def test_a_single_record_about_a_person_needs_it_too(shop, model, obj):
    url = reverse(f"admin:campaigns_{model}_change", args=[obj().pk])

    assert staff(f"view_{model}", f"change_{model}").get(url).status_code == 403


def test_an_import_clerk_without_it_cannot_download_the_rejected_rows(shop):
    job = ImportJob.objects.get()
    url = reverse("admin:campaigns_importjob_rejects", args=[job.pk])

    assert staff("view_importjob", "add_importjob").get(url).status_code in (403, 404)
    assert staff("view_importjob", "add_importjob").get(
        reverse("admin:campaigns_importjob_add")).status_code == 403


@pytest.mark.parametrize("page", [
    lambda: reverse("admin:campaigns_segment_changelist"),
    lambda: reverse("admin:campaigns_segment_change",
                    args=[Segment.objects.get(name="Swedes").pk]),
    lambda: reverse("admin:campaigns_campaign_changelist"),
    lambda: reverse("admin:campaigns_campaign_change",
                    args=[Campaign.objects.get(slug="welcome").pk]),
    lambda: reverse("admin:campaigns_messagetemplate_changelist"),
    lambda: reverse("admin:campaigns_dashboard_changelist"),
    lambda: reverse("admin:index"),
])
def test_a_marketer_without_it_sees_no_one_on_the_pages_they_may_open(segment, page):
    marketer = staff("view_segment", "change_segment", "view_campaign", "change_campaign",
                     "view_messagetemplate", "view_dashboard")

    response = marketer.get(page())

    assert response.status_code == 200
    assert emails_in(response.content) == []
