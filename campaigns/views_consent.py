"""Public consent pages: the preference centre (from the email token alone) and the public
subscription page with its double opt-in confirmation.

A GET never changes anything (mail scanners and link prefetchers follow links). Answers
never tell whether an address or a token belongs to anyone.
"""
import datetime as dt
import functools
import ipaddress

from django import forms
from django.conf import settings
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from campaigns import clock
from campaigns.exceptions import InvalidTokenError
from campaigns.languages import site_language
from campaigns.models import (
    ConsentSource, Customer, Subscription, SubscriptionRequest, Topic,
)
from campaigns.services.consent import (
    consent_record, consent_withdraw_all, erasure_request_record, marketing_pause,
)
from campaigns.services.scheduling import customer_zone
from campaigns.services.subscriptions import subscription_confirm, subscription_request_create
from campaigns.throttle import public_rate_check
from campaigns.tokens import subscription_token_read, unsubscribe_token_read

PREFERENCE_WORDING = "preference-centre-2026-1"
# The topics a customer can switch, with the labels the page shows (translated).
TOPICS = [
    (Topic.OFFERS.value, gettext_lazy("Offers")),
    (Topic.SURVEYS.value, gettext_lazy("Surveys")),
    (Topic.LOYALTY.value, gettext_lazy("Loyalty news")),
]
MAX_PAUSE_DAYS = 365


def page_language(request, locale: str = "") -> str:
    """The language of a public page.

    `locale` is the customer's, given only by pages that already differ for a known
    customer (the preference centre). Every answer that must read the same for a known,
    an unknown and a forged token takes its language from the request alone: the link's
    `?lang=` (emails put the customer's language in their links), else the browser's
    Accept-Language among settings.LANGUAGES, else LANGUAGE_CODE (English).
    """
    for candidate in (locale, request.GET.get("lang", "")):
        if language := site_language(candidate):
            return language
    return translation.get_language_from_request(request)


def page_render(request, template, context=None, *, locale: str = "", status: int = 200):
    """Render a public page in `page_language` (its <html lang> and Content-Language too)."""
    language = page_language(request, locale)
    with translation.override(language):
        response = render(request, template, {"lang": language, **(context or {})},
                                 status=status)
    response["Content-Language"] = language
    return response


def client_ip(request) -> str | None:
    """The address a request came from, for consent proof and rate limits.

    REMOTE_ADDR, unless the site runs behind TRUSTED_PROXY_COUNT reverse proxies: then all
    requests come from the nearest proxy, and the client is the entry the outermost trusted
    proxy appended to X-Forwarded-For, counted from the right (entries further left were
    written by the client and prove nothing). None when that is not an IP address.
    """
    address = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [hop for hop in hops if hop]
        if len(hops) >= proxies:
            address = hops[-proxies]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def _too_many(request, retry_after: int, template="campaigns/too_many_requests.html",
              context=None, locale=""):
    response = page_render(request, template, context, status=429, locale=locale)
    response["Retry-After"] = str(retry_after)
    return response


def public_rate_limit(view=None, *, posts_per_address: bool = True):
    """Count every request of a public page per client address, and every POST per token
    (the URL's `token`), in the cache all web processes share. Over either limit the visitor
    gets a 429 page in their language with Retry-After, and the view does not run: nothing
    is stored. A link's GETs do not count for its token: mail scanners open every link of
    a message (eleven survey scores share one token), and that must not use up the
    customer's own click. `posts_per_address=False` leaves POSTs out of the address count:
    one-click unsubscribes (RFC 8058) come from the mailbox provider's few servers for all
    its users. The limits: PUBLIC_RATE_PER_ADDRESS_PER_HOUR, PUBLIC_RATE_PER_TOKEN_PER_HOUR."""
    if view is None:
        return functools.partial(public_rate_limit, posts_per_address=posts_per_address)

    @functools.wraps(view)
    def limited(request, *args, **kwargs):
        post = request.method == "POST"
        limits = []
        if posts_per_address or not post:
            limits.append(("address", client_ip(request) or "-",
                           settings.PUBLIC_RATE_PER_ADDRESS_PER_HOUR))
        if kwargs.get("token") and post:
            limits.append(("token", kwargs["token"], settings.PUBLIC_RATE_PER_TOKEN_PER_HOUR))
        verdict = public_rate_check(limits=limits)
        if not verdict.allowed:
            return _too_many(request, verdict.retry_after)
        return view(request, *args, **kwargs)

    return limited


def _proof(request) -> dict:
    return {"ip_address": client_ip(request),
            "user_agent": request.META.get("HTTP_USER_AGENT", "")}


def customer_for_token(token: str) -> Customer | None:
    """The (not erased) customer an unsubscribe token names, or None for anything else."""
    try:
        customer_id = unsubscribe_token_read(token=token)
    except InvalidTokenError:
        return None
    return Customer.objects.filter(pk=customer_id, erased_at__isnull=True).first()


def _preferences_context(customer: Customer, token: str, **extra) -> dict:
    subscriptions = dict(Subscription.objects.filter(customer=customer).values_list("topic", "subscribed"))
    paused = customer.marketing_paused_until
    now = clock.now()
    zone = customer_zone(customer.time_zone)
    return {
        "token": token,
        "marketing": customer.marketing_consent,
        "topics": [{"value": v, "label": label, "on": subscriptions.get(v, True)} for v, label in TOPICS],
        "paused_until": paused.astimezone(zone).date() if paused and paused > now else None,
        "min_date": (now.astimezone(zone).date() + dt.timedelta(days=1)).isoformat(),
        "max_date": (now.astimezone(zone).date() + dt.timedelta(days=MAX_PAUSE_DAYS)).isoformat(),
        **extra,
    }


def preferences_page(request, token):
    """GET of /u/<token>: the preference centre. Changes nothing."""
    customer = customer_for_token(token)
    if customer is None:
        # The same one-click form as for a real customer, so a token reveals nothing.
        return page_render(request, "campaigns/unsubscribe_confirm.html", {"token": token})
    return page_render(request, "campaigns/preferences.html", _preferences_context(customer, token),
                  locale=customer.locale)


def _saved(request, status=200):
    # The same answer for any token: its language comes from the link (?lang=), not the customer.
    return page_render(request, "campaigns/preferences_saved.html", status=status)


@require_POST
@public_rate_limit
def preferences_save(request, token):
    """Per-topic switches. Only a box the person changed from what the page showed counts,
    so saving an untouched page records nothing. One click either way (GD-6)."""
    customer = customer_for_token(token)
    if customer is None:
        return _saved(request)
    proof = {**_proof(request), "source": ConsentSource.PREFERENCE_CENTRE,
             "method": "preference_centre", "wording_version": PREFERENCE_WORDING}
    shown = request.POST.get("shown_marketing") == "1"
    wanted = request.POST.get("marketing") == "1"
    if wanted != shown:
        if wanted:
            consent_record(customer=customer, topic=Topic.MARKETING, granted=True, **proof)
        else:
            consent_withdraw_all(customer=customer, **proof)
    for value, _ in TOPICS:
        shown = request.POST.get(f"shown_{value}") == "1"
        wanted = request.POST.get(f"topic_{value}") == "1"
        if wanted != shown:
            consent_record(customer=customer, topic=value, granted=wanted, **proof)
    return _saved(request)


@require_POST
@public_rate_limit
def preferences_pause(request, token):
    """Pause all marketing until a date in the customer's zone (at most a year), or resume."""
    customer = customer_for_token(token)
    if customer is None:
        return _saved(request)
    if request.POST.get("resume"):
        marketing_pause(customer=customer, until=None)
        return _saved(request)
    zone = customer_zone(customer.time_zone)
    today = clock.now().astimezone(zone).date()
    try:
        until = dt.date.fromisoformat(request.POST.get("until", ""))
    except ValueError:
        until = None
    if until is None or not today < until <= today + dt.timedelta(days=MAX_PAUSE_DAYS):
        with translation.override(page_language(request, customer.locale)):
            error = gettext("Choose a date after today and at most %(days)s days ahead.") % {
                "days": MAX_PAUSE_DAYS}
        context = _preferences_context(customer, token, pause_error=error)
        return page_render(request, "campaigns/preferences.html", context, status=400,
                      locale=customer.locale)
    # Marketing may start again from the first moment of that day, the customer's time.
    marketing_pause(customer=customer, until=dt.datetime.combine(until, dt.time(0), tzinfo=zone)
                    .astimezone(dt.timezone.utc))
    return _saved(request)


@require_POST
@public_rate_limit
def erasure_request(request, token):
    """Record a deletion request for the shop's staff (admin: Erasure requests)."""
    customer = customer_for_token(token)
    if customer is not None:
        erasure_request_record(customer=customer, **_proof(request))
    return page_render(request, "campaigns/erasure_requested.html")


class SubscribeForm(forms.Form):
    email = forms.EmailField(max_length=254)
    first_name = forms.CharField(max_length=100, required=False)
    # Never pre-ticked: a consent must be an act (GDPR recital 32).
    agree = forms.BooleanField(required=True)
    locale = forms.CharField(max_length=16, required=False)


@require_http_methods(["GET", "POST"])
@public_rate_limit
def subscribe(request):
    """The public subscription page. A POST always answers "check your inbox": it never
    tells whether the address is known, suppressed or was asked for already."""
    if request.method == "GET":
        lang = request.GET.get("lang", "")[:16]
        form = SubscribeForm(initial={"locale": lang})
        return page_render(request, "campaigns/subscribe.html", {"form": form}, locale=lang)
    lang = request.POST.get("locale", "")[:16]
    # Each address may also only ask for a few confirmation emails an hour.
    verdict = public_rate_check(limits=[
        ("subscribe", client_ip(request) or "-", settings.SUBSCRIBE_RATE_PER_HOUR)])
    if not verdict.allowed:
        return _too_many(request, verdict.retry_after, "campaigns/subscribe.html",
                         {"form": SubscribeForm(), "too_many": True}, locale=lang)
    form = SubscribeForm(request.POST)
    if not form.is_valid():
        return page_render(request, "campaigns/subscribe.html", {"form": form}, status=400, locale=lang)
    data = form.cleaned_data
    subscription_request_create(
        email=data["email"], topics=[Topic.MARKETING], source=ConsentSource.SUBSCRIPTION_PAGE,
        first_name=data["first_name"], locale=data["locale"],
        wording_version=settings.SUBSCRIBE_WORDING_VERSION, **_proof(request),
    )
    return page_render(request, "campaigns/subscribe_sent.html", locale=lang)


def _request_for(token: str) -> SubscriptionRequest | None:
    try:
        request_id = subscription_token_read(token=token)
    except InvalidTokenError:
        return None
    return SubscriptionRequest.objects.filter(pk=request_id).first()


@require_http_methods(["GET", "POST"])
@public_rate_limit
def subscribe_confirm(request, token):
    """GET shows a Confirm button; the POST confirms. Forged, expired and cancelled links
    get one and the same answer."""
    subscription = _request_for(token)
    # The language the person subscribed in, on the pages only a real request reaches;
    # the refusal reads the same for forged, expired and cancelled links.
    lang = subscription.locale if subscription is not None else ""
    if subscription is not None and subscription.confirmed_at is not None:
        return page_render(request, "campaigns/subscribe_done.html", locale=lang)
    pending = subscription is not None and subscription.cancelled_at is None and (
        subscription.expires_at > clock.now())
    if not pending:
        return page_render(request, "campaigns/link_invalid.html", status=404)
    if request.method == "GET":
        return page_render(request, "campaigns/subscribe_confirm.html", {"token": token}, locale=lang)
    if not subscription_confirm(request=subscription, **_proof(request)):
        return page_render(request, "campaigns/link_invalid.html", status=404)
    return page_render(request, "campaigns/subscribe_done.html", locale=lang)

