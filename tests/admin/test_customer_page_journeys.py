"""The customer page's "every campaign" section, readable events and segment links."""
import datetime as dt
import html
import re

import pytest
from django.urls import reverse

from campaigns.admin.customer_page import event_details_html, event_summary
from campaigns.models import Campaign, Enrollment, Event, Segment, SegmentMembership
from campaigns.services.consent import suppression_add
from tests.factories import CampaignFactory, CustomerFactory, JourneyStepFactory, OrderFactory

pytestmark = pytest.mark.django_db


def page_text(response) -> str:
    text = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html.unescape(text))


def change_url(customer) -> str:
    return reverse("admin:campaigns_customer_change", args=[customer.pk])


def explain_url(segment, customer) -> str:
    return reverse("admin:campaigns_segment_explain", args=[segment.pk, customer.pk])


class TestEveryCampaign:
    def test_each_live_campaign_is_explained_and_a_paused_one_is_marked(self, admin_client,
                                                                        frozen_clock):
        customer = CustomerFactory(time_zone="UTC")
        CampaignFactory(name="Order thanks", trigger_event_type="purchase")
        CampaignFactory(name="Old survey", trigger_event_type="purchase",
                        status=Campaign.Status.PAUSED)
        CampaignFactory(name="Draft idea", status=Campaign.Status.DRAFT)

        response = admin_client.get(change_url(customer))

        text = page_text(response)
        section = text[text.index("Every active campaign, for this customer"):]
        assert "Order thanks Not in the audience: no order yet." in section
        assert "Old survey paused Not in the audience: no order yet." in section
        assert "Draft idea" not in section

    def test_a_holdout_customer_is_told_why_nothing_came(self, admin_client, frozen_clock):
        customer = CustomerFactory(time_zone="UTC")
        campaign = CampaignFactory(name="Bonus", trigger_event_type="purchase")
        Enrollment.objects.create(campaign=campaign, customer=customer, triggered_at=frozen_clock.now,
                                  is_holdout=True, state=Enrollment.State.COMPLETED)

        text = page_text(admin_client.get(change_url(customer)))

        assert ("Bonus In the holdout group since 2026-03-02 09:00 UTC: gets nothing, on purpose, "
                "so the campaign's effect can be measured.") in text

    def test_a_segment_trigger_links_to_why_the_customer_is_not_in_it(self, admin_client,
                                                                      frozen_clock):
        customer = CustomerFactory(time_zone="UTC")
        segment = Segment.objects.create(name="Loyal customers", rule={})
        CampaignFactory(name="Loyal thanks", trigger=Campaign.Trigger.SEGMENT_ENTRY,
                        trigger_event_type="", trigger_config={"segment": segment.pk})

        body = admin_client.get(change_url(customer)).content.decode()

        assert f'<a href="{explain_url(segment, customer)}">Why is this customer not in ' \
               f'“Loyal customers”?</a>' in html.unescape(body)
        assert admin_client.get(explain_url(segment, customer)).status_code == 200

    def test_a_suppressed_address_is_said_in_a_sentence(self, admin_client, frozen_clock):
        customer = CustomerFactory(time_zone="UTC", email="gone@example.com")
        suppression_add(email="gone@example.com", reason="bounced")
        JourneyStepFactory(campaign=CampaignFactory(name="Hello"))

        text = page_text(admin_client.get(change_url(customer)))

        assert ("The address is on the suppression list (earlier emails bounced): nothing is "
                "sent to it.") in text
        assert ("Its emails would not go out: the address is on the suppression list") in text


class TestSegments:
    def test_members_link_to_why_and_other_segments_to_why_not(self, admin_client, frozen_clock):
        customer = CustomerFactory(time_zone="UTC")
        inside = Segment.objects.create(name="Swedes", rule={})
        outside = Segment.objects.create(name="Big spenders", rule={})
        SegmentMembership.objects.create(segment=inside, customer=customer,
                                         entered_at=frozen_clock.now)

        body = html.unescape(admin_client.get(change_url(customer)).content.decode())

        assert f'<a href="{explain_url(inside, customer)}">why is this customer in it?</a>' in body
        assert f'<a href="{explain_url(outside, customer)}">Why not in “Big spenders”?</a>' in body
        assert f'href="{explain_url(inside, customer)}">Why not in' not in body


class TestReadableEvents:
    def test_a_purchase_reads_as_order_items_and_amount(self, frozen_clock):
        order = OrderFactory(external_id="1042", amount="599.00", currency="SEK")
        event = Event.objects.create(customer=order.customer, type="purchase", order=order,
                                     occurred_at=frozen_clock.now,
                                     properties={"order_id": "1042", "items": [1, 2, 3],
                                                 "amount": "599.00", "currency": "SEK"})

        assert event_summary(event) == "Purchase — order 1042, 3 items, 599.00 SEK"
        assert "items:</span> 3 items" in event_details_html(event)
        assert "order_id" not in event_details_html(event)

    def test_long_values_are_cut_and_nested_ones_summarised(self, frozen_clock):
        customer = CustomerFactory()
        event = Event.objects.create(customer=customer, type="page_view", occurred_at=frozen_clock.now,
                                     properties={"url": "https://shop.example/" + "x" * 300,
                                                 "utm": {"source": "mail", "campaign": "spring"},
                                                 "is_mobile": True})

        details = html.unescape(event_details_html(event))

        assert event_summary(event) == "Page view"
        assert "page:</span> https://shop.example/" in details and "x" * 60 not in details
        assert "…" in details
        assert "utm:</span> source: mail, campaign: spring" in details
        assert "is mobile:</span> yes" in details
        assert "{" not in details

    def test_an_event_of_another_order_names_it(self, frozen_clock):
        order = OrderFactory(external_id="77")
        event = Event.objects.create(customer=order.customer, type="refund", order=order,
                                     occurred_at=frozen_clock.now - dt.timedelta(days=1))

        assert event_summary(event) == "Refund — order 77"
        assert event_details_html(event) == ""
