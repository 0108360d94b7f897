"""The only place message templates are compiled and rendered (sandboxed Jinja2).

Templates receive plain dicts built by `message_context`, never model instances.
Compiled templates are cached per (translation id, version, part): compiling costs far
more than rendering, and a saved edit bumps the version so stale entries are never used.
Rendering one message is bounded in time and size (`RenderLimits`, templating/bounds.py).
"""
from functools import lru_cache

import jinja2
from celery.exceptions import SoftTimeLimitExceeded
from jinja2 import meta, nodes
from markupsafe import escape

from campaigns.exceptions import TemplateRenderError
from campaigns.templating.bounds import (
    DEFAULT_LIMITS, BoundedSandboxedEnvironment, Budget, RenderLimits, budget_stream,
)
from campaigns.templating.layout import Layout, css_inline_html, layout_wrap
from campaigns.templating.recommendations import sample_recommendations

__all__ = ["DEFAULT_LIMITS", "PARTS", "SAMPLE_CONTEXT", "Attributes", "Layout", "RenderLimits",
           "footer_render", "template_names", "template_preview", "template_render",
           "product_item", "template_segments", "template_validate", "with_footer"]

_ENVIRONMENTS = {
    autoescape: BoundedSandboxedEnvironment(
        autoescape=autoescape, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    for autoescape in (True, False)
}



class Attributes(dict):
    """A product's free attributes as a template reads them: one the catalogue lacks is
    undefined but harmless (renders empty, is false, takes `| default(…)`), so a gap in the
    catalogue never stops a send. The preview (`AttributeReads`) counts those gaps."""

    __slots__ = ()

    def __missing__(self, key):
        return jinja2.Undefined(name=f"attributes.{key}")


def product_item(*, sku: str, name: str, names: dict, languages: tuple[str, ...], url: str,
                 image_url: str, price, currency: str, category: str, brand: str,
                 in_stock: bool, attributes: dict, site_url: str) -> dict:
    """A catalogue product as a template's ITEM (docs/templates.md), one place for every
    list that shows products (a cart's or an order's lines, recommendations): the name in
    the first of `languages` the product has, else its name, else the sku; the product's
    page, else the site. `price` is the unit price (None: ""); a line sets its quantity,
    price and total on a copy."""
    return {"sku": sku,
            "name": next((names[lang] for lang in languages
                          if isinstance(names.get(lang), str) and names[lang]), name or sku),
            "url": url or site_url, "image_url": image_url or "",
            "price": "" if price is None else f"{price:.2f}", "currency": currency or "",
            "quantity": 1, "line_total": "", "category": category or "", "brand": brand or "",
            "in_stock": bool(in_stock), "attributes": Attributes(attributes), "known": True}


class AttributeReads:
    """Which attributes a preview's template read of which products, and which were missing:
    {key: [products read, products missing]}."""

    def __init__(self):
        self.reads: dict[str, list[set]] = {}

    def wrap(self, attributes: dict) -> "Attributes":
        return _RecordingAttributes(attributes, reads=self)


class _RecordingAttributes(Attributes):
    __slots__ = ("_reads",)

    def __init__(self, data, *, reads: AttributeReads):
        super().__init__(data)
        self._reads = reads

    def __getitem__(self, key):
        if isinstance(key, str):
            seen = self._reads.reads.setdefault(key, [set(), set()])
            seen[0].add(id(self))
            if key not in self:
                seen[1].add(id(self))
        return super().__getitem__(key)


def _sample_item(sku, name, price, quantity, category, attributes, *, url_path):
    return {"sku": sku, "name": name, "url": f"https://shop.example.com/p/{url_path}",
            "image_url": "", "price": price, "currency": "SEK", "quantity": quantity,
            "line_total": f"{float(price) * quantity:.2f}", "category": category,
            "brand": "Nordic Goods", "in_stock": True, "attributes": Attributes(attributes),
            "known": True}


def _sample_in_segment(name) -> bool:
    """The sample customer is in no segment (the preview renders both versions)."""
    return False


# Which parts are HTML (autoescaped) and what a marketer calls them.
PARTS = {"subject": (False, "subject"), "html": (True, "HTML body"), "text": (False, "text body")}

SAMPLE_CONTEXT = {
    "customer": {
        "first_name": "Astrid",
        "last_name": "Lindqvist",
        "email": "astrid@example.se",
        "locale": "sv",
        "external_id": "c-42",
        # A template should not count on an attribute every customer may lack: use
        # {{ customer.attributes.shoe_size | default("") }} (StrictUndefined otherwise).
        "attributes": {},
    },
    "site_url": "https://shop.example.com",
    "company": {"name": "Nordic Goods AB", "address": "Storgatan 1, 111 22 Stockholm",
                "contact_url": "https://shop.example.com/contact"},
    "campaign": {"name": "Welcome"},
    "unsubscribe_url": "https://shop.example.com/u/sample-token",
    # Present only in some journeys (an order-triggered survey, a reward step); the
    # sample has them all so a template can be checked whatever journey it is for.
    "order": {"external_id": "o-9", "amount": "499.00", "currency": "SEK"},
    "expiring": {"points": 120, "expires_on": "2026-04-30"},
    "reward": {"points": 500, "coupon_code": "K7QX-M2PA-9T", "coupon_expires": "2026-04-30"},
    # Every template: the "your points" block (services.rendering, campaigns.loyalty).
    "loyalty": {"balance": 1250, "points_balance": 1250, "tier": "silver", "tier_points": 1400,
                "next_tier": "gold", "points_to_next_tier": 3600},
    # The event that started the journey, with its lines joined with the catalogue
    # (services.personalisation builds the real ones), and the customer's last orders.
    "event": {
        "type": "checkout.started", "occurred_at": "2026-03-02T18:04:00+00:00",
        "properties": {"cart_url": "https://shop.example.com/cart"},
        "items": [
            _sample_item("SKU-1001", "Kockkniv 20 cm", "895.00", 1, "Kitchen > Knives",
                         {"material": "steel", "color": "black"}, url_path="kockkniv"),
            _sample_item("SKU-1002", "Brynsten", "249.00", 2, "Kitchen > Knives",
                         {"material": "stone"}, url_path="brynsten"),
        ],
    },
    "orders": [
        {"external_id": "o-9", "amount": "499.00", "currency": "SEK",
         "placed_at": "2026-02-14T10:30:00+00:00",
         "items": [_sample_item("SKU-1003", "Kaffebryggare", "499.00", 1, "Kitchen > Coffee",
                                {"color": "white"}, url_path="kaffebryggare")]},
        {"external_id": "o-7", "amount": "598.00", "currency": "SEK",
         "placed_at": "2025-12-01T09:12:00+00:00",
         "items": [_sample_item("SKU-2001", "Skärbräda i ek", "349.00", 1, "Kitchen > Boards",
                                {"material": "oak"}, url_path="skarbrada"),
                   _sample_item("SKU-1002", "Brynsten", "249.00", 1, "Kitchen > Knives",
                                {"material": "stone"}, url_path="brynsten")]},
    ],
    "in_segment": _sample_in_segment,
    # A callable, as at send: recommendations(4) or recommendations(4, strategy="top").
    "recommendations": sample_recommendations,
    # The customer's referral link and what it brought (services.referral_context).
    "referral": {"url": "https://shop.example.com/r/k7qxm2pa9tbc", "code": "k7qxm2pa9tbc",
                 "count": 2, "rewarded_points": 1000},
    "survey": {
        "nps_links": [{"score": n, "url": f"https://shop.example.com/s/sample/{n}"} for n in range(11)],
        "followup_url": "https://shop.example.com/s/sample/more",
        "csat_links": [{"score": n, "url": f"https://shop.example.com/s/sample/csat/{n}"}
                       for n in range(1, 6)],
        "ces_links": [{"score": n, "url": f"https://shop.example.com/s/sample/ces/{n}"}
                      for n in range(1, 8)],
    },
}


def _compile(source: str, *, part: str):
    autoescape, label = PARTS[part]
    try:
        return _ENVIRONMENTS[autoescape].from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateRenderError(f"{label}, line {exc.lineno}: {exc.message}") from exc


@lru_cache(maxsize=2048)
def _compiled(key: tuple, source: str, part: str):
    return _compile(source, part=part)


def _render_part(template, context: dict, *, part: str, budget: Budget | None = None) -> str:
    label = PARTS[part][1]
    try:
        if budget is None:
            return template.render(context)
        budget.part = label
        return budget_stream(template, context, budget)
    except (TemplateRenderError, SoftTimeLimitExceeded):
        raise  # the second: the Celery task's time is up, which is no fault of the template
    except jinja2.UndefinedError as exc:
        raise TemplateRenderError(f"{label}: {exc.message}") from exc
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateRenderError(f"{label}: not allowed in a template ({exc})") from exc
    except RecursionError as exc:
        raise TemplateRenderError(f"{label}: calls itself too deeply") from exc
    except Exception as exc:  # noqa: BLE001 - any template runtime error is the template's
        raise TemplateRenderError(f"{label}: {type(exc).__name__}: {exc}") from exc


def template_validate(*, subject: str, html_body: str, text_body: str,
                      limits: RenderLimits = DEFAULT_LIMITS) -> None:
    """Compile all three parts and render them with a sample customer, within `limits`.

    Raises TemplateRenderError naming the part and line (TemplateTooSlowError or
    TemplateTooLargeError past the limits), so a marketer sees the mistake at save time
    instead of a failed send later.
    """
    budget = Budget(limits)
    sources = (("subject", subject), ("html", html_body), ("text", text_body))
    compiled = [(part, _compile(source, part=part)) for part, source in sources]
    for part, template in compiled:
        _render_part(template, SAMPLE_CONTEXT, part=part, budget=budget)
    if "in_segment" in template_names(cache_key=("validate",), subject=subject, html_body=html_body, text_body=text_body):
        # Content by segment: the members' version must render too.
        member = {**SAMPLE_CONTEXT, "in_segment": lambda name: True}
        for part, template in compiled:
            _render_part(template, member, part=part, budget=budget)


@lru_cache(maxsize=2048)
def template_names(*, cache_key: tuple, subject: str, html_body: str, text_body: str) -> frozenset:
    """The top-level names a template's three parts read (e.g. "customer", "survey"), so
    the sender builds only the data a template uses. `cache_key` as for rendering."""
    names = set()
    for part, source in (("subject", subject), ("html", html_body), ("text", text_body)):
        try:
            names |= meta.find_undeclared_variables(_ENVIRONMENTS[PARTS[part][0]].parse(source))
        except jinja2.TemplateSyntaxError:
            continue  # rendering reports it, naming the part and line
    return frozenset(names)


@lru_cache(maxsize=2048)
def template_segments(*, cache_key: tuple, subject: str, html_body: str,
                      text_body: str) -> frozenset:
    """The segment names a template's `in_segment("…")` calls name, as written (only
    literal names: the sender loads the membership of these, once per batch)."""
    found = set()
    for part, source in (("subject", subject), ("html", html_body), ("text", text_body)):
        try:
            ast = _ENVIRONMENTS[PARTS[part][0]].parse(source)
        except jinja2.TemplateSyntaxError:
            continue
        for call in ast.find_all(nodes.Call):
            if isinstance(call.node, nodes.Name) and call.node.name == "in_segment" \
                    and call.args and isinstance(call.args[0], nodes.Const) \
                    and isinstance(call.args[0].value, str):
                found.add(call.args[0].value)
    return frozenset(found)


def _html_source(html_body: str, layout: Layout | None) -> tuple[str, bool]:
    """The HTML part's source, in its layout with the CSS inlined (and whether each rendered
    email must still be inlined: templating/layout.py)."""
    if layout is None:
        return html_body, False
    # The body alone first, so a syntax error names the marketer's line, not the layout's.
    _compiled(("body",), html_body, "html")
    return layout_wrap(html_body, layout)


def template_render(
    *, cache_key: tuple, subject: str, html_body: str, text_body: str, context: dict,
    limits: RenderLimits = DEFAULT_LIMITS, layout: Layout | None = None,
) -> dict:
    """Render subject, HTML and text, together within `limits` (TemplateTooSlowError,
    TemplateTooLargeError). `cache_key` must change whenever the sources do; `layout`
    (its key changes with every edit of it) wraps the HTML, with its CSS inlined."""
    rendered = {}
    budget = Budget(limits)
    html_source, inline_after = _html_source(html_body, layout)
    layout_key = layout.key if layout is not None else None
    for part, source in (("subject", subject), ("html", html_source), ("text", text_body)):
        template = _compiled((*cache_key, layout_key, part), source, part)
        rendered[part] = _render_part(template, context, part=part, budget=budget)
    if inline_after:
        rendered["html"] = css_inline_html(rendered["html"])
    if layout is not None and layout.footer_text.strip():
        # The layout's footer text ends the text part too (the HTML has it in the layout).
        rendered["text"] = f"{rendered['text'].rstrip()}\n\n{layout.footer_text.strip()}\n"
    # A subject is one line; a stray newline would break the header.
    rendered["subject"] = " ".join(rendered["subject"].split())
    return rendered


def template_preview(*, translation, limits: RenderLimits = DEFAULT_LIMITS) -> dict:
    """Render a translation with the sample customer, for the admin's live preview."""
    return template_render(
        cache_key=("preview", translation.pk, translation.version),
        subject=translation.subject,
        html_body=translation.html_body,
        text_body=translation.text_body,
        context=SAMPLE_CONTEXT,
        limits=limits,
    )


# The legal footer of every marketing email, appended by the sender so no template can
# forget it: who sends, where they are, a visible way out, and the right to object.
_FOOTERS = {
    "en": (
        "You receive this email as a customer or subscriber of {{ company.name }}. "
        "You can object to marketing at any time, free of charge.",
        "Unsubscribe",
        "Your right to object: you may object at any time, free of charge, to our use of "
        "your personal data for direct marketing, including profiling for it (GDPR article "
        "21). Use the link below and we stop at once.",
    ),
    "sv": (
        "Du får det här mejlet som kund hos eller prenumerant på {{ company.name }}. "
        "Du kan när som helst och kostnadsfritt invända mot marknadsföring.",
        "Avregistrera dig",
        "Din rätt att invända: du kan när som helst och kostnadsfritt invända mot att vi "
        "använder dina personuppgifter för direktmarknadsföring, inklusive profilering för "
        "det ändamålet (artikel 21 i dataskyddsförordningen). Använd länken nedan så slutar "
        "vi direkt.",
    ),
    "nb": (
        "Du får denne e-posten som kunde hos eller abonnent på {{ company.name }}. "
        "Du kan når som helst og gratis reservere deg mot markedsføring.",
        "Meld deg av",
        "Din rett til å protestere: du kan når som helst og gratis protestere mot at vi "
        "bruker personopplysningene dine til direkte markedsføring, inkludert profilering "
        "for dette formålet (personvernforordningen artikkel 21). Bruk lenken nedenfor, så "
        "slutter vi med en gang.",
    ),
}
_FOOTER_HTML = (
    '<div style="max-width:600px;margin:0 auto;padding:16px 24px 32px;border-top:1px solid #ddd;'
    'font-family:{font};font-size:12px;line-height:1.5;color:{colour};">'
    "{objection}<p>{notice}</p><p>{{{{ company.name }}}}, {{{{ company.address }}}}</p>"
    '<p><a href="{{{{ unsubscribe_url }}}}" style="color:{link_colour};">{link}</a></p></div>'
)
# Without a layout: (font, text colour, link colour).
_FOOTER_STYLE = ("Arial,sans-serif", "#666", "#666")
_FOOTER_TEXT = "\n\n--\n{objection}{notice}\n{{{{ company.name }}}}, {{{{ company.address }}}}\n{link}: {{{{ unsubscribe_url }}}}\n"


# The footer differs between messages only by the unsubscribe link: it is rendered once
# per locale and company with this mark in the link's place, which each message replaces.
_LINK_MARK = "\x00unsubscribe-url\x00"


@lru_cache(maxsize=64)
def _footer_with_mark(locale: str, company_name: str, company_address: str,
                      first: bool, style: tuple = _FOOTER_STYLE) -> tuple[str, str]:
    notice, link, objection = _FOOTERS[locale]
    context = {"company": {"name": company_name, "address": company_address},
               "unsubscribe_url": _LINK_MARK}
    key = ("footer", locale, first, style)
    font, colour, link_colour = (str(escape(value)) for value in style)
    # The right to object is stated clearly and separately in the first marketing email.
    objection_html = f"<p><strong>{objection}</strong></p>" if first else ""
    objection_text = f"{objection}\n" if first else ""
    return (
        _render_part(_compiled(key + ("html",), _FOOTER_HTML.format(
            notice=notice, link=link, objection=objection_html, font=font, colour=colour,
            link_colour=link_colour), "html"), context, part="html"),
        _render_part(_compiled(key + ("text",), _FOOTER_TEXT.format(
            notice=notice, link=link, objection=objection_text), "text"), context, part="text"),
    )


def footer_render(*, locale: str, context: dict, first: bool = False,
                  layout: Layout | None = None) -> dict:
    """The legal footer in the message's locale (English when there is none), in the
    layout's font and colours when there is one.

    `first`: the customer's first marketing email, which also states the right to object.
    """
    html, text = _footer_with_mark(
        locale if locale in _FOOTERS else "en", context["company"]["name"],
        context["company"]["address"], first,
        layout.footer_style if layout is not None else _FOOTER_STYLE,
    )
    url = context["unsubscribe_url"]
    return {"html": html.replace(_LINK_MARK, str(escape(url))), "text": text.replace(_LINK_MARK, url)}


def with_footer(*, rendered: dict, footer: dict) -> dict:
    """Put the footer before </body> when the HTML has one, else at its end."""
    html = rendered["html"]
    # Lower-casing a whole email costs tens of µs once it holds any non-ASCII letter (the
    # layout's HTML parse turns &rsquo; into ’): the usual lower-case tag is looked for first.
    index = html.rfind("</body>")
    if index < 0:
        index = html.lower().rfind("</body>")
    html = html[:index] + footer["html"] + html[index:] if index >= 0 else html + footer["html"]
    return {**rendered, "html": html, "text": rendered["text"].rstrip() + footer["text"]}
