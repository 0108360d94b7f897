"""The campaign form's product settings: the purchase exit and the product event types."""
import pytest

from campaigns.admin.campaign_forms import CampaignForm
from campaigns.journey_picture import journey_boxes
from campaigns.models import Campaign
from campaigns.services.campaign_drafts import campaign_create_from_starter
from tests.admin.test_campaign_page import _data_of

pytestmark = pytest.mark.django_db


def test_the_purchase_exit_checkbox_round_trips_and_can_be_cleared():
    cart = campaign_create_from_starter(key="abandoned_cart")
    data = _data_of(CampaignForm(instance=cart))
    assert data["exit_on_purchase_of_items"] == "on"

    del data["exit_on_purchase_of_items"]
    form = CampaignForm(data=data, instance=cart)
    assert form.is_valid(), form.errors
    assert "exit_on_purchase_of_items" not in form.save().trigger_config

    data["exit_on_purchase_of_items"] = "on"
    form = CampaignForm(data=data, instance=cart)
    assert form.is_valid(), form.errors
    assert form.save().trigger_config == {"exit_on_purchase_of_items": True}


def test_the_product_event_types_are_suggested_for_triggers_and_exits():
    html = str(CampaignForm()["trigger_event_type"])
    exits = dict(CampaignForm().fields["exit_events"].choices)

    for event_type in ("checkout.started", "cart.updated", "product.viewed",
                       "product.reorder_due"):
        assert f'value="{event_type}"' in html
        assert event_type in exits


@pytest.mark.parametrize("key", ["abandoned_cart", "browse_abandonment", "reorder"])
def test_the_journey_picture_says_that_buying_the_products_ends_it(key):
    campaign = campaign_create_from_starter(key=key)

    exit_box = [b for b in journey_boxes(campaign, list(campaign.steps.all())) if b.kind == "exit"]

    assert "buys a product of the trigger" in exit_box[0].detail
    assert campaign.status == Campaign.Status.DRAFT
