"""factory_boy factories, one per model."""
import datetime as dt
from decimal import Decimal

import factory

from campaigns import models


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Customer

    external_id = factory.Sequence(lambda n: f"c-{n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.se")
    first_name = "Astrid"
    last_name = "Lindqvist"
    locale = "sv"
    time_zone = "Europe/Stockholm"
    country = "SE"
    marketing_consent = False


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Order

    customer = factory.SubFactory(CustomerFactory)
    external_id = factory.Sequence(lambda n: f"o-{n}")
    amount = Decimal("499.00")
    currency = "SEK"
    placed_at = factory.LazyFunction(lambda: dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc))


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Event

    customer = factory.SubFactory(CustomerFactory)
    event_id = factory.Sequence(lambda n: f"ev-{n}")
    type = "signup"
    occurred_at = factory.LazyFunction(lambda: dt.datetime(2026, 3, 2, 9, tzinfo=dt.timezone.utc))


class MessageTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.MessageTemplate

    name = factory.Sequence(lambda n: f"Template {n}")
    purpose = models.Purpose.MARKETING
    default_locale = "en"


class TemplateTranslationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.TemplateTranslation

    template = factory.SubFactory(MessageTemplateFactory)
    locale = "en"
    subject = "Welcome, {{ customer.first_name }}!"
    html_body = "<p>Hello {{ customer.first_name }}</p>"
    text_body = "Hello {{ customer.first_name }}"


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    slug = factory.Sequence(lambda n: f"campaign-{n}")
    status = models.Campaign.Status.ACTIVE
    trigger = models.Campaign.Trigger.EVENT
    trigger_event_type = "signup"
    deadline = dt.timedelta(hours=24)


class JourneyStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.JourneyStep

    campaign = factory.SubFactory(CampaignFactory)
    position = 0
    kind = models.JourneyStep.Kind.SEND
    template = factory.SubFactory(MessageTemplateFactory)


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Enrollment

    campaign = factory.SubFactory(CampaignFactory)
    customer = factory.SubFactory(CustomerFactory)
    triggered_at = factory.LazyFunction(lambda: dt.datetime(2026, 3, 2, 9, tzinfo=dt.timezone.utc))


class SentMessageFactory(factory.django.DjangoModelFactory):
    """A message the provider has accepted (one enrollment and one step each)."""

    class Meta:
        model = models.Message

    enrollment = factory.SubFactory(EnrollmentFactory)
    campaign = factory.SelfAttribute("enrollment.campaign")
    customer = factory.SelfAttribute("enrollment.customer")
    step = factory.SubFactory(
        JourneyStepFactory, campaign=factory.SelfAttribute("..enrollment.campaign"),
        position=factory.Sequence(lambda n: n),
    )
    state = models.Message.State.SENT
    first_due_at = factory.LazyFunction(lambda: dt.datetime(2026, 3, 2, 9, tzinfo=dt.timezone.utc))
    due_at = factory.SelfAttribute("first_due_at")
    sent_at = factory.SelfAttribute("first_due_at")
    sending_domain = "example.com"
    provider_message_id = factory.Sequence(lambda n: f"<20260302090000.{n}.A1B2C3@mg.example.com>")
