"""Public pages (unsubscribe), the ingestion API and the email provider's webhooks."""
from django.urls import include, path

from campaigns import views, views_consent
from campaigns.api import api
from campaigns.delivery.webhooks import MailgunTrackingWebhookView

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
    # anymail's tracking webhooks, e.g. /anymail/postmark/tracking/; Mailgun's with the
    # signed timestamp's age checked too (it must come before anymail's own).
    path("anymail/mailgun/tracking/", MailgunTrackingWebhookView.as_view(),
         name="mailgun-tracking-webhook"),
    path("anymail/", include("anymail.urls")),
]
