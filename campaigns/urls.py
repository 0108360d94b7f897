"""Public pages (unsubscribe), the ingestion API and the email provider's webhooks."""
import re

from anymail import urls as anymail_urls
from django.urls import URLPattern, include, path, re_path

from campaigns import views, views_consent, views_referrals
from campaigns.api import api
from campaigns.delivery.webhooks import MailgunTrackingWebhookView, webhook_guarded


def _provider(pattern: URLPattern) -> str:
    # "mailgun/tracking/", "^mailgun/inbound(_mime)?/$": the provider comes first.
    return re.match(r"\^?(\w+)", str(pattern.pattern)).group(1)


def webhook_patterns() -> list[URLPattern]:
    """anymail's webhooks, e.g. /anymail/postmark/tracking/, each open only for a provider
    in WEBHOOK_PROVIDERS (the first part of its path) and never a 5xx for a bad post;
    Mailgun's tracking with the signed timestamp's age checked too (before anymail's own)."""
    mailgun = path("mailgun/tracking/", MailgunTrackingWebhookView.as_view(),
                   name="mailgun-tracking-webhook")
    return [
        URLPattern(pattern.pattern, webhook_guarded(pattern.callback,
                                                    provider=_provider(pattern)),
                   pattern.default_args, pattern.name)
        for pattern in [mailgun, *anymail_urls.urlpatterns]
    ]


urlpatterns = [
    path("api/v1/", api.urls),
    path("u/<str:token>", views.unsubscribe, name="unsubscribe"),
    path("privacy/<str:token>/export", views.privacy_export, name="privacy-export"),
    path("u/<str:token>/preferences", views_consent.preferences_save, name="preferences-save"),
    path("u/<str:token>/pause", views_consent.preferences_pause, name="preferences-pause"),
    path("u/<str:token>/erasure", views_consent.erasure_request, name="erasure-request"),
    path("subscribe", views_consent.subscribe, name="subscribe"),
    path("subscribe/confirm/<str:token>", views_consent.subscribe_confirm, name="subscribe-confirm"),
    path("healthz", views.healthz, name="healthz"),
    path("healthz/scheduler", views.healthz_scheduler, name="healthz-scheduler"),
    path("s/<str:token>/<int:score>", views.survey, name="survey-nps"),
    path("s/<str:token>/more", views.survey, {"kind": "csat"}, name="survey-more"),
    path("s/<str:token>/<slug:kind>", views.survey, name="survey-kind"),
    path("s/<str:token>/<slug:kind>/<int:score>", views.survey, name="survey-score"),
    # Anything after /r/ (a slash, a NUL, 10 kB): the same redirect, never a 404 that
    # would tell a well-formed code from another.
    re_path(r"^r/(?P<code>[\s\S]*)\Z", views_referrals.referral_redirect, name="referral"),
    path("anymail/", include(webhook_patterns())),
]
