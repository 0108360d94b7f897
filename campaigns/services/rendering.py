"""What one message says: its template, the data a template sees, the rendered parts."""
from django.conf import settings
from django.db.models import Sum

from campaigns import templating
from campaigns.exceptions import TemplateRenderError
from campaigns.loyalty import EXPIRING_EVENT, loyalty_block
from campaigns.models import Coupon, Message, PointsEntry, Purpose, TemplateTranslation, Tier
from campaigns.tokens import survey_token, unsubscribe_token


def _translation_for(template, locale: str) -> TemplateTranslation | None:
    translations = {t.locale: t for t in template.translations.all()}
    language = (locale or "").split("-")[0].lower()
    for candidate in (locale, language, settings.DEFAULT_LOCALE, template.default_locale):
        if candidate in translations:
            return translations[candidate]
    return next(iter(translations.values()), None)


def message_template(message: Message):
    """The template this message is rendered from: its A/B variant's, else its step's."""
    return message.variant.template if message.variant_id else message.step.template


def _survey_block(message_id: int) -> dict:
    site = settings.SITE_URL
    survey = survey_token(message_id=message_id)
    return {
        "nps_links": [{"score": n, "url": f"{site}/s/{survey}/{n}"} for n in range(11)],
        "followup_url": f"{site}/s/{survey}/more",
        "csat_links": [{"score": n, "url": f"{site}/s/{survey}/csat/{n}"} for n in range(1, 6)],
        "ces_links": [{"score": n, "url": f"{site}/s/{survey}/ces/{n}"} for n in range(1, 8)],
    }


def message_context(*, message: Message, unsubscribe_url: str, names=None) -> dict:
    """The plain data a template sees: no model instances, no querysets.

    `order` is there when the journey began with an order, `expiring` when it began
    with a points.expiring event, `reward` when it granted
    points or issued a coupon (so no email can speak of a reward that was not granted),
    `survey` and `loyalty` (balance, tier, next tier) always — or, given `names` (what
    the template reads, templating.template_names), `survey` only when it is read: its
    23 signed links are the dearest part to build.
    """
    customer = message.customer
    site = settings.SITE_URL
    context = {
        "customer": {
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "email": customer.email,
            "locale": customer.locale,
            "external_id": customer.external_id,
            # Custom attributes as stored: typed values are JSON numbers, booleans and
            # "YYYY-MM-DD" dates (campaigns.attributes), so they print as 42, not 42.0.
            "attributes": dict(customer.attributes or {}),
        },
        "site_url": site,
        "company": {"name": settings.COMPANY_NAME, "address": settings.COMPANY_ADDRESS},
        "campaign": {"name": message.campaign.name},
        "unsubscribe_url": unsubscribe_url,
        "loyalty": loyalty_block(
            balance=customer.points_balance, tier=customer.tier,
            tier_points=customer.tier_points, tiers=_tiers(message),
        ),
    }
    if names is None or "survey" in names:
        context["survey"] = _survey_block(message.pk)
    trigger = message.enrollment.trigger_event
    if trigger is not None and trigger.order is not None:
        order = trigger.order
        context["order"] = {"external_id": order.external_id, "amount": str(order.amount),
                            "currency": order.currency}
    if trigger is not None and trigger.type == EXPIRING_EVENT:
        properties = trigger.properties or {}
        context["expiring"] = {"points": properties.get("points", 0),
                               "expires_on": properties.get("expires_on", "")}
    granted = getattr(message, "granted_points", None)
    if granted is None:
        granted = PointsEntry.objects.filter(enrollment_id=message.enrollment_id).aggregate(
            points=Sum("delta"))["points"]
    coupon = getattr(message, "coupon", _UNSET)
    if coupon is _UNSET:
        coupon = Coupon.objects.filter(enrollment_id=message.enrollment_id).order_by("id").first()
    if granted or coupon is not None:
        context["reward"] = {"points": granted or 0}
    if coupon is not None:
        context["reward"].update(coupon_code=coupon.code,
                                 coupon_expires=coupon.expires_at.date().isoformat())
    return context


_UNSET = object()


def _tiers(message: Message) -> list[tuple[str, int]]:
    """The configured tiers (the sender loads them once per batch as `message.tiers`)."""
    tiers = getattr(message, "tiers", None)
    if tiers is None:
        tiers = list(Tier.objects.values_list("name", "threshold"))
    return tiers


def render_limits() -> templating.RenderLimits:
    """How long one message may take to render and how large it may be (settings
    TEMPLATE_RENDER_SECONDS, TEMPLATE_OUTPUT_BYTES): the same at send and in the admin."""
    return templating.RenderLimits(seconds=settings.TEMPLATE_RENDER_SECONDS,
                                   output_bytes=settings.TEMPLATE_OUTPUT_BYTES)


def message_render(*, message: Message) -> tuple[dict, str, str | None]:
    """Render a message in the customer's locale: (parts, locale used, unsubscribe url).

    Raises TemplateRenderError; TemplateTooSlowError or TemplateTooLargeError past
    `render_limits()`.
    """
    template = message_template(message)
    translation = _translation_for(template, message.customer.locale)
    if translation is None:
        raise TemplateRenderError("the template has no text in any language", template=template.name)
    return translation_render(message=message, translation=translation,
                              marketing=template.purpose == Purpose.MARKETING,
                              cache_key=(translation.pk, translation.version))


def translation_render(*, message: Message, translation, marketing: bool,
                       cache_key: tuple) -> tuple[dict, str, str | None]:
    """`message_render` with a given text: the current one at send, or the version that was
    sent (a row of the audit trail) when the campaign page shows a message as sent.
    `cache_key` must change whenever the text does."""
    token = unsubscribe_token(customer_id=message.customer_id)
    # The link names the email's language, so the pages it opens (and the one-click
    # answer) speak it whatever the browser says, without looking the customer up.
    language = translation.locale.split("-")[0].lower()
    unsubscribe_url = f"{settings.SITE_URL}/u/{token}?lang={language}" if marketing else None
    sources = {"cache_key": cache_key,
               "subject": translation.subject, "html_body": translation.html_body,
               "text_body": translation.text_body}
    context = message_context(message=message, unsubscribe_url=unsubscribe_url or "",
                              names=templating.template_names(**sources))
    rendered = templating.template_render(**sources, context=context, limits=render_limits())
    if marketing:
        footer = templating.footer_render(
            locale=translation.locale, context=context,
            first=getattr(message, "first_marketing", False),
        )
        rendered = templating.with_footer(rendered=rendered, footer=footer)
    return rendered, translation.locale, unsubscribe_url
