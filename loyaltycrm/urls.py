"""URL configuration: admin, the ingestion API and the public pages."""
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("campaigns.urls")),
]
