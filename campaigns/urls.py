"""Public pages (unsubscribe) and the ingestion API."""
from django.urls import path

from campaigns import views
from campaigns.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("u/<str:token>", views.unsubscribe, name="unsubscribe"),
    path("healthz", views.healthz, name="healthz"),
    path("s/<str:token>/<int:score>", views.survey, name="survey-nps"),
    path("s/<str:token>/more", views.survey, {"kind": "csat"}, name="survey-more"),
]
