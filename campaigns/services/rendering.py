"""What one message says: its template, its layout, the data a template sees, the rendered
parts."""
import copy

from django.conf import settings
from django.db.models import Sum
from django.templatetags.static import static
from django.utils.translation import gettext, ngettext

from campaigns import templating
from campaigns.exceptions import TemplateRenderError
from campaigns.loyalty import EXPIRING_EVENT, loyalty_block
from campaigns.models import (
    Coupon, Customer, EmailLayout, Message, PointsEntry, Purpose, Segment, TemplateTranslation,
    Tier,
)
from campaigns.services.personalisation import (
    PERSONAL_NAMES, Membership, personalisation_attach, personalisation_context,
    personalisation_sample,
)
from campaigns.services.referral_context import referral_block, referral_sample
from campaigns.selectors.recommendations import (
    recommendations_for_customer, recommendations_for_message,
)
from campaigns.tokens import survey_token, unsubscribe_token

_UNSET = object()


def template_layout(template) -> EmailLayout | None:
    """The layout a template's HTML sits in: its own, else the default one; none for a
    template marked "no layout" (or when no layout exists).

    Kept on the template instance: the sender loads each template once per send call, so a
    layout is read once per template per call and an edit is seen by the next call.
    """
    if template.raw_html:
        return None
    layout = getattr(template, "_layout_resolved", _UNSET)
    if layout is _UNSET:
        layout = (template.layout if template.layout_id is not None
                  else EmailLayout.objects.filter(is_default=True).first())
        template._layout_resolved = layout
    return layout


def layout_parts(layout: EmailLayout | None) -> tuple[templating.Layout | None, dict]:
    """(what of the layout goes into the source, the `company` data templates read)."""
    if layout is None:
        return None, {"name": settings.COMPANY_NAME, "address": settings.COMPANY_ADDRESS,
                      "contact_url": settings.SERVICE_CONTACT_URL}
    company = layout.company
    # Made once per layout instance: the sender's batch shares one per template.
    spec = getattr(layout, "_spec", None)
    if spec is None or spec.key != (layout.pk, layout.version):
        spec = layout._spec = templating.Layout(
            key=(layout.pk, layout.version), company_name=company["name"],
            logo_url=layout.logo_url, footer_text=layout.footer_text,
            brand_color=layout.brand_color, background_color=layout.background_color,
            text_color=layout.text_color, font=layout.font)
    return spec, company


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


def _customer_block(customer: Customer) -> dict:
    return {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "email": customer.email,
        "locale": customer.locale,
        "external_id": customer.external_id,
        # Custom attributes as stored: typed values are JSON numbers, booleans and
        # "YYYY-MM-DD" dates (campaigns.attributes), so they print as 42, not 42.0.
        "attributes": dict(customer.attributes or {}),
    }


def message_context(*, message: Message, unsubscribe_url: str, names=None,
                    layout: EmailLayout | None = None) -> dict:
    """The plain data a template sees: no model instances, no querysets.

    `order` is there when the journey began with an order, `expiring` when it began
    with a points.expiring event, `reward` when it granted
    points or issued a coupon (so no email can speak of a reward that was not granted),
    `survey` and `loyalty` (balance, tier, next tier) always — or, given `names` (what
    the template reads, templating.template_names), `survey` only when it is read: its
    23 signed links are the dearest part to build. `referral` likewise only when read
    (services.referral_context).
    """
    customer = message.customer
    site = settings.SITE_URL
    company = layout_parts(layout)[1]
    context = {
        "customer": _customer_block(customer),
        "site_url": site,
        "company": company,
        "campaign": {"name": message.campaign.name},
        "unsubscribe_url": unsubscribe_url,
        "loyalty": loyalty_block(
            balance=customer.points_balance, tier=customer.tier,
            tier_points=customer.tier_points, tiers=_tiers(message),
        ),
    }
    if names is None or "survey" in names:
        context["survey"] = _survey_block(message.pk)
    if names is None or "recommendations" in names:
        context["recommendations"] = recommendations_for_message(message)
    if names is None or "referral" in names:
        context["referral"] = referral_block(message)
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
    _personal_add(context, message=message, names=names)
    return context


def _personal_add(context: dict, *, message: Message, names) -> None:
    """`event`, `orders` and `in_segment` (services.personalisation): loaded per batch by
    the sender; a message rendered on its own (the as-sent page) loads its own."""
    if names is not None and not names & PERSONAL_NAMES:
        return
    if getattr(message, "personalisation", None) is None:
        personalisation_attach([message], reads=(names or PERSONAL_NAMES, None))
    context.update(personalisation_context(message.personalisation, names))


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
    return translation_render(message=message, translation=translation, template=template,
                              marketing=template.purpose == Purpose.MARKETING,
                              cache_key=(translation.pk, translation.version))


def translation_render(*, message: Message, translation, template, marketing: bool,
                       cache_key: tuple) -> tuple[dict, str, str | None]:
    """`message_render` with a given text: the current one at send, or the version that was
    sent (rows of the audit trail: the translation and the template, whose layout choice is
    read from it; the layout itself is today's) when the campaign page shows a message as
    sent. `cache_key` must change whenever the text does."""
    token = unsubscribe_token(customer_id=message.customer_id)
    # The link names the email's language, so the pages it opens (and the one-click
    # answer) speak it whatever the browser says, without looking the customer up.
    language = translation.locale.split("-")[0].lower()
    unsubscribe_url = f"{settings.SITE_URL}/u/{token}?lang={language}" if marketing else None
    sources = {"cache_key": cache_key,
               "subject": translation.subject, "html_body": translation.html_body,
               "text_body": translation.text_body}
    layout = template_layout(template)
    spec = layout_parts(layout)[0]
    context = message_context(message=message, unsubscribe_url=unsubscribe_url or "",
                              names=templating.template_names(**sources), layout=layout)
    rendered = templating.template_render(**sources, context=context, limits=render_limits(),
                                          layout=spec)
    if marketing:
        footer = templating.footer_render(
            locale=translation.locale, context=context,
            first=getattr(message, "first_marketing", False), layout=spec,
        )
        rendered = templating.with_footer(rendered=rendered, footer=footer)
    return rendered, translation.locale, unsubscribe_url


def sample_context(*, customer: Customer | None, layout: EmailLayout | None,
                   unsubscribe_url: str | None = None) -> dict:
    """The data a preview or a test send renders with: the sample customer, or a real one
    (their name, address, language, attributes, points and tier, their last order) with
    sample links and journey data. Reads only; the links lead nowhere that counts (no
    signed token of a real message or customer), so nothing a tester clicks is recorded.
    """
    context = copy.deepcopy(templating.SAMPLE_CONTEXT)
    context["company"] = layout_parts(layout)[1]
    if unsubscribe_url is not None:
        context["unsubscribe_url"] = unsubscribe_url
    if customer is None:
        _sample_images(context)
        return context
    context["customer"] = _customer_block(customer)
    context["recommendations"] = recommendations_for_customer(customer_id=customer.pk,
                                                              locale=customer.locale)
    context["referral"] = referral_sample(customer_id=customer.pk, sample=context["referral"])
    context["loyalty"] = loyalty_block(
        balance=customer.points_balance, tier=customer.tier, tier_points=customer.tier_points,
        tiers=list(Tier.objects.values_list("name", "threshold")),
    )
    order = customer.orders.order_by("-placed_at", "-id").first()
    if order is not None:
        context["order"] = {"external_id": order.external_id, "amount": str(order.amount),
                            "currency": order.currency}
    personal = personalisation_sample(customer)
    if personal["event"] is not None:
        context["event"] = personal["event"]
    context["orders"] = personal["orders"]
    context["in_segment"] = Membership(personal["segments"])
    return context


def _sample_images(context: dict) -> None:
    """The sample's products show a local placeholder picture in the preview."""
    picture = static("campaigns/sample_product.svg")
    for item in [*context["event"]["items"], *(i for o in context["orders"] for i in o["items"])]:
        item["image_url"] = item["image_url"] or picture


def draft_render(*, subject: str, html_body: str, text_body: str, purpose: str, locale: str,
                 layout: EmailLayout | None, customer: Customer | None = None,
                 context: dict | None = None) -> dict:
    """An unsaved template rendered as the sender would (layout, inlined CSS, the legal
    footer for marketing), for the admin's live preview and test sends. Nothing is written.
    `context`: the data to render with (else `sample_context`). Raises TemplateRenderError."""
    spec = layout_parts(layout)[0]
    if context is None:
        context = sample_context(customer=customer, layout=layout)
    rendered = templating.template_render(
        cache_key=("draft",), subject=subject, html_body=html_body, text_body=text_body,
        context=context, limits=render_limits(), layout=spec,
    )
    if purpose == Purpose.MARKETING:
        footer = templating.footer_render(locale=locale, context=context, layout=spec)
        rendered = templating.with_footer(rendered=rendered, footer=footer)
    return rendered


def draft_preview(*, subject: str, html_body: str, text_body: str, purpose: str, locale: str,
                  layout: EmailLayout | None, customer: Customer | None = None) -> dict:
    """What the live preview shows: {"rendered": parts or None, "problems": per part}.

    The problems are the draft's own (templating.checks); when there are none the draft is
    rendered for the customer (or the sample), and an error there goes to its part too.
    """
    from campaigns.templating.checks import draft_notes, draft_problems

    sources = {"subject": subject, "html_body": html_body, "text_body": text_body}
    problems = draft_problems(**sources, purpose=purpose, in_layout=layout is not None)
    rendered, versions, notes = None, [], []
    if not any(problems.values()):
        names = templating.template_names(cache_key=("draft",), **sources)
        segments = templating.template_segments(cache_key=("draft",), **sources) \
            if "in_segment" in names else frozenset()
        notes = draft_notes(**sources, segments=set(Segment.objects.filter(
            name__in=segments).values_list("name", flat=True))) if segments else []
        context = sample_context(customer=customer, layout=layout)
        reads = templating.AttributeReads()
        _attributes_watch(context, reads)
        try:
            if "in_segment" in names:
                versions = _segment_versions(context, segments=segments, real=customer is not None,
                                             render=lambda c: draft_render(
                                                 **sources, purpose=purpose, locale=locale,
                                                 layout=layout, context=c))
                rendered = next(v["rendered"] for v in versions if v["shown"])
            else:
                rendered = draft_render(**sources, purpose=purpose, locale=locale, layout=layout,
                                        context=context)
        except TemplateRenderError as error:
            rendered, versions = None, []
            part = _part_of(str(error))
            problems[part].append(str(error))
        notes += _attribute_notes(reads)
    return {"rendered": rendered, "problems": problems, "versions": versions, "notes": notes}


def _attributes_watch(context: dict, reads) -> None:
    """Count which product attributes the preview reads, and which are missing."""
    items = [*(context.get("event") or {}).get("items", ()),
             *(i for o in context.get("orders") or () for i in o["items"])]
    for item in items:
        item["attributes"] = reads.wrap(item["attributes"])


def _attribute_notes(reads) -> list[str]:
    notes = []
    for key, (read, missing) in sorted(reads.reads.items()):
        if missing:
            notes.append(ngettext(
                "“attributes.%(key)s” is missing on %(missing)s of %(total)s product; the "
                "default is shown (nothing, when the template gives none).",
                "“attributes.%(key)s” is missing on %(missing)s of %(total)s products; the "
                "default is shown (nothing, when the template gives none).", len(read),
            ) % {"key": key, "missing": len(missing), "total": len(read)})
    return notes


def _segment_versions(context: dict, *, segments: frozenset, real: bool, render) -> list[dict]:
    """Content by segment: the draft as a member of the segments it names and as a
    non-member, and for a real customer as they would get it; `shown` is the one the
    preview opens with (the customer's own, else the members')."""
    quoted = ", ".join(f"“{name}”" for name in sorted(segments)) or "—"
    versions = []
    if real:
        own = sorted(context["in_segment"].names & segments)
        versions.append({"label": gettext("As this customer gets it"), "member": None,
                         "shown": True, "rendered": render(context),
                         "detail": ", ".join(own)})
    for member in (True, False):
        label = (gettext("Member of %(segments)s") if member
                 else gettext("Not a member of %(segments)s")) % {"segments": quoted}
        versions.append({"label": label, "member": member, "shown": member and not real,
                         "rendered": render({**context, "in_segment": Membership(
                             segments if member else frozenset())}),
                         "detail": ""})
    return versions


def _part_of(error: str) -> str:
    """Which part a render error names (its message starts with the part's label)."""
    for part, (_, label) in templating.PARTS.items():
        if error.startswith(label):
            return part
    return "html"
