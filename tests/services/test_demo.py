"""Demo data: idempotent, consistent with itself, and shows the welcome journey at once."""
import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db.models import Count, F, Max, Min, Sum

from campaigns.models import (
    Campaign, ConsentEvent, Customer, Event, EventLine, FrequencyPolicy, JourneyStep, Message,
    MessageTemplate, Order, OrderLine, Product, Segment, TemplateTranslation,
)
from campaigns.services.demo import content_locales, content_read, demo_load
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due
from campaigns.templating import SAMPLE_CONTEXT, template_render, template_validate

pytestmark = pytest.mark.django_db


def table_counts() -> dict:
    models = [Customer, Order, Event, ConsentEvent, MessageTemplate, TemplateTranslation,
              Campaign, JourneyStep, FrequencyPolicy, Product, OrderLine, EventLine]
    return {model.__name__: model.objects.count() for model in models}


def test_seeding_twice_leaves_identical_counts_and_an_active_welcome(frozen_clock):
    call_command("seed_demo", "--customers", "50", "--force")
    first = table_counts()

    frozen_clock.advance(hours=1)
    call_command("seed_demo", "--customers", "50", "--force")

    assert table_counts() == first
    recent = Event.objects.filter(type__in=["checkout.started", "product.viewed"]).count()
    assert first["Customer"] == 50 and first["Event"] == 50 + first["Order"] + recent
    assert first["Product"] == 30 and first["OrderLine"] >= first["Order"]
    welcome = Campaign.objects.get(slug="welcome")
    assert (welcome.name, welcome.status, welcome.trigger_event_type, welcome.entry_key) == (
        "Welcome", Campaign.Status.ACTIVE, "signup", Campaign.EntryKey.CUSTOMER
    )
    assert (welcome.deadline, welcome.priority, welcome.exempt_from_caps,
            welcome.holdout_percent) == (dt.timedelta(hours=24), 100, False, 0)
    step = welcome.steps.get()
    assert (step.position, step.kind, step.template.name, step.on_blocked) == (
        0, JourneyStep.Kind.SEND, "Welcome", JourneyStep.OnBlocked.WAIT
    )
    assert sorted(step.template.translations.values_list("locale", flat=True)) == [
        "en", "nb", "sv"
    ]


def test_the_command_reports_what_it_added_and_then_that_nothing_was_needed(frozen_clock, capsys):
    call_command("seed_demo", "--customers", "10", "--force")
    call_command("seed_demo", "--customers", "10", "--force")

    first, second = capsys.readouterr().out.strip().splitlines()
    assert "customers: 10" in first and "campaigns: 12" in first
    assert second == "Demo data is already there: nothing added."


def test_the_command_refuses_to_seed_with_debug_off_unless_forced(frozen_clock):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo", "--customers", "1")  # pytest-django runs with DEBUG off

    assert not Customer.objects.exists()


def test_the_last_five_customers_are_fresh_consenting_signups_within_the_deadline(frozen_clock):
    demo_load(customers=40, history=True)

    fresh = Customer.objects.filter(signed_up_at__gt=frozen_clock.now - dt.timedelta(hours=24))
    assert sorted(fresh.values_list("external_id", flat=True)) == [
        f"demo-c-{n:04d}" for n in range(36, 41)
    ]
    assert all(c.marketing_consent and c.time_zone for c in fresh)
    assert {c.locale for c in fresh} == {"sv", "nb", "en"}
    for customer in fresh:
        signup = Event.objects.get(customer=customer, type="signup")
        assert signup.occurred_at == customer.signed_up_at <= frozen_clock.now


def test_a_tick_after_seeding_sends_the_welcome_to_exactly_the_fresh_signups(frozen_clock):
    # The year of history predates the journey: only the fresh signups are enrolled.
    demo_load(customers=40, history=True)
    history = set(Message.objects.values_list("pk", flat=True))

    scheduler_tick(now=frozen_clock.now)
    messages_send_due(now=frozen_clock.now)

    # The product journeys have carts and reorders of their own (tests below).
    new = Message.objects.exclude(pk__in=history).filter(campaign__slug="welcome")
    states = Counter(new.values_list("state", flat=True))
    assert states == {"sent": 5}
    assert set(
        new.filter(state="sent").values_list("customer__external_id", flat=True)
    ) == {f"demo-c-{n:04d}" for n in range(36, 41)}


def test_lifecycle_facts_equal_the_aggregates_of_each_customers_orders(frozen_clock):
    demo_load(customers=80, history=True)

    facts = Customer.objects.annotate(
        n=Count("orders"), total=Sum("orders__amount"),
        first=Min("orders__placed_at"), last=Max("orders__placed_at"),
    )
    for c in facts:
        assert (c.order_count, c.total_spent, c.first_order_at, c.last_order_at) == (
            c.n, c.total or Decimal("0"), c.first, c.last
        ), c.external_id
    assert Order.objects.exists()


def test_orders_and_events_follow_the_signup_and_never_lie_in_the_future(frozen_clock):
    demo_load(customers=80, history=True)

    for order in Order.objects.select_related("customer"):
        assert order.customer.signed_up_at < order.placed_at <= frozen_clock.now
        # The sum of its lines (SEK prices 49 to 1,290; NOK alike, EUR a tenth).
        assert Decimal("4") <= order.amount <= Decimal("6000")
        assert order.currency in {"SEK", "NOK", "EUR"}
    purchases = Event.objects.filter(type="purchase").select_related("order")
    assert purchases.count() == Order.objects.count()
    assert all(e.occurred_at == e.order.placed_at for e in purchases)
    assert not Order.objects.exclude(external_id__startswith="demo-o-").exists()
    assert not Event.objects.exclude(event_id__startswith="demo-ev-").exists()


def test_about_seven_in_ten_customers_consented_through_the_consent_log(frozen_clock):
    demo_load(customers=200, history=True)

    consenting = Customer.objects.filter(marketing_consent=True)
    assert 0.6 <= consenting.count() / 200 <= 0.8
    proof = ConsentEvent.objects.all()
    assert proof.count() == consenting.count()
    assert set(proof.values_list("granted", "source", "wording_version")) == {
        (True, "import", "demo-v1")
    }


def test_customers_look_nordic_and_use_reserved_example_domains_only(frozen_clock):
    demo_load(customers=200, history=True)

    customers = list(Customer.objects.all())
    assert {c.email.rsplit("@", 1)[1] for c in customers} <= {
        "example.com", "example.se", "example.no"
    }
    assert {c.locale for c in customers} <= {"sv", "nb", "en", "da", "fi"}
    assert {"sv", "nb", "en"} <= {c.locale for c in customers}
    assert {c.time_zone for c in customers} <= {
        "Europe/Stockholm", "Europe/Oslo", "Europe/Helsinki", "Europe/Copenhagen",
        "Europe/London", "America/New_York", "",
    }
    assert "" in {c.time_zone for c in customers}
    assert {"SE", "NO", "FI", "DK"} <= {c.country for c in customers}
    assert len({c.email for c in customers}) == 200


def test_a_marketers_edits_survive_a_second_run(frozen_clock):
    demo_load(customers=5, history=True)
    welcome = Campaign.objects.get(slug="welcome")
    Campaign.objects.filter(pk=welcome.pk).update(status=Campaign.Status.PAUSED, priority=7)
    TemplateTranslation.objects.filter(template__name="Welcome", locale="sv").update(subject="Hej!")
    TemplateTranslation.objects.filter(template__name="Welcome", locale="nb").delete()

    created = demo_load(customers=5, history=True)

    welcome.refresh_from_db()
    assert (welcome.status, welcome.priority) == (Campaign.Status.PAUSED, 7)
    assert TemplateTranslation.objects.get(template__name="Welcome", locale="sv").subject == "Hej!"
    assert created["translations"] == 1  # only the missing language came back
    assert welcome.steps.count() == 1


def test_an_existing_frequency_policy_is_left_alone(frozen_clock, policy):
    FrequencyPolicy.objects.update(name="Ours", max_per_day=2)

    demo_load(customers=1, history=True)

    assert list(FrequencyPolicy.objects.values_list("name", "max_per_day")) == [("Ours", 2)]


def test_the_default_policy_is_one_a_day_three_a_week_and_quiet_at_night(frozen_clock):
    demo_load(customers=1, history=True)

    policy = FrequencyPolicy.objects.get()
    assert (policy.name, policy.max_per_day, policy.max_per_week) == ("Default", 1, 3)
    assert (policy.quiet_hours_start, policy.quiet_hours_end) == (dt.time(21), dt.time(8))


@pytest.mark.parametrize("locale", content_locales(name="welcome"))
def test_the_shipped_welcome_passes_template_validation(locale):
    template_validate(**content_read(name="welcome", locale=locale))


@pytest.mark.parametrize("locale, greeting", [("en", "Hi there,"), ("sv", "Hej där!"),
                                              ("nb", "Hei du!")])
def test_the_welcome_greets_gracefully_without_a_first_name(locale, greeting):
    context = {**SAMPLE_CONTEXT, "customer": {**SAMPLE_CONTEXT["customer"], "first_name": ""}}

    rendered = template_render(cache_key=("test", locale), context=context,
                               **content_read(name="welcome", locale=locale))

    assert greeting in rendered["text"] and greeting in rendered["html"]
    assert rendered["subject"].endswith("Nordic Goods!")
    assert 'href="https://shop.example.com"' in rendered["html"]
    assert "unsubscribe" not in rendered["html"].lower()


def test_the_welcome_html_is_simple_and_self_contained():
    # Its look comes from the shared layout (templating/layout.py), which inlines the CSS.
    for locale in content_locales(name="welcome"):
        html = content_read(name="welcome", locale=locale)["html_body"]
        assert "style=" not in html and "<html" not in html
        assert "<img" not in html and "<link" not in html and "<style" not in html


def test_the_lifecycle_and_product_journeys_are_active_and_their_texts_are_valid(frozen_clock):
    from campaigns.templating import template_validate

    demo_load(customers=0, history=True)

    journeys = Campaign.objects.filter(status=Campaign.Status.ACTIVE).order_by("-priority")
    assert list(journeys.values_list("slug", flat=True)) == [
        "welcome", "detractor-followup", "referral-reward", "post-purchase-survey",
        "abandoned-cart", "promoter-invite", "surprise-bonus", "time-to-reorder",
        "browse-abandonment", "win-back"]
    translations = TemplateTranslation.objects.all()
    assert translations.filter(template__steps__campaign__slug="abandoned-cart").exists()
    for translation in translations:
        template_validate(subject=translation.subject, html_body=translation.html_body,
                          text_body=translation.text_body)


def test_the_monthly_draw_ships_as_a_draft_that_a_marketer_can_activate(frozen_clock):
    from campaigns.services.journeys import campaign_activate

    demo_load(customers=0, history=True)
    draw = Campaign.objects.get(slug="surprise-draw")
    assert draw.status == Campaign.Status.DRAFT

    assert campaign_activate(campaign=draw) is True
    assert draw.trigger_segment_id() == Segment.objects.get(name="Loyal customers").pk


def test_the_demo_shop_has_a_catalogue_carts_and_reorders_for_the_product_journeys(frozen_clock):
    demo_load(customers=200, history=True)

    products = Product.objects.all()
    assert products.count() == 30 and products.filter(in_stock=False).count() == 1
    assert {p.category.split(" > ")[0] for p in products} == {"Kitchen", "Coffee", "Tea", "Home"}
    images = f"{settings.SITE_URL}/static/campaigns/demo/products/"
    assert all(p.image_url.startswith(images) and p.image_url.endswith(".svg")
               and set(p.names) == {"sv", "nb", "en"} for p in products)
    assert products.get(sku="COF-DARK").reorder_days == 30
    assert products.filter(learned_reorder_days__isnull=False).exists()
    # Each order's amount is the sum of its lines.
    for order in Order.objects.annotate(lines_total=Sum(F("lines__quantity") * F("lines__price"))):
        assert order.amount == order.lines_total

    scheduler_tick(now=frozen_clock.now)

    cart = Campaign.objects.get(slug="abandoned-cart")
    assert cart.enrollments.filter(state="active").exists()
    assert Message.objects.filter(campaign=cart).exists()  # a cart left over an hour ago
    assert Event.objects.filter(type="product.reorder_due").exists()
