"""URL configuration: admin, the ingestion API and the public pages."""
from django.conf import settings
from django.contrib import admin
from django.shortcuts import render
from django.urls import include, path


def landing(request):
    """What the admin's "View site" opens: a small public page (in the visitor's language)
    pointing to the newsletter sign-up and the admin, instead of a 404."""
    return render(request, "campaigns/landing.html", {"company": settings.COMPANY_NAME})


urlpatterns = [
    path("admin/", admin.site.urls),
    # The admin's language switch posts here (Django's set_language: cookie, then back).
    path("i18n/", include("django.conf.urls.i18n")),
    path("", landing, name="landing"),
    path("", include("campaigns.urls")),
]
