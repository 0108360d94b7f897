"""Public pages (unsubscribe) and the ingestion API."""
from django.urls import path

from campaigns import views

urlpatterns = [
    path("u/<str:token>", views.unsubscribe, name="unsubscribe"),
]
