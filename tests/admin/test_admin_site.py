"""The admin site itself: a home grouped by task, in the visitor's language with a switch on
every page, its JavaScript catalog served by the app, and a "View site" that leads somewhere."""
import json

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from campaigns.admin_site import GROUPS, OTHER, group_of
from campaigns.models import Heartbeat

pytestmark = pytest.mark.django_db
HOME = reverse("admin:index")


@pytest.fixture
def superuser_client():
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def _models(app_list) -> list[str]:
    return [m["model"]._meta.label for app in app_list for m in app["models"]]


def test_every_registered_model_is_on_the_home_page_exactly_once(superuser_client):
    response = superuser_client.get(HOME)

    registered = sorted(model._meta.label for model in admin.site._registry)
    assert sorted(_models(response.context["app_list"])) == registered
    # The sidebar of every other page shows the same groups.
    sidebar = superuser_client.get(reverse("admin:campaigns_campaign_changelist"))
    assert sorted(_models(sidebar.context["available_apps"])) == registered


def test_the_home_page_is_grouped_by_task_in_the_marketers_order(superuser_client):
    app_list = superuser_client.get(HOME).context["app_list"]

    assert [app["app_label"] for app in app_list] == [
        "customers", "campaigns", "content", "loyalty", "insights", "settings"]
    by_group = {app["app_label"]: _models([app]) for app in app_list}
    assert by_group["customers"][:2] == ["campaigns.Customer", "campaigns.Segment"]
    assert by_group["campaigns"][0] == "campaigns.Campaign"
    assert "campaigns.MessageTemplate" in by_group["content"]
    assert by_group["insights"][0] == "campaigns.Dashboard"
    assert {"campaigns.ApiKey", "auth.User", "auth.Group"} <= set(by_group["settings"])


def test_every_named_model_is_named_by_one_group_only():
    named = [label for group in GROUPS for label in group.models]

    assert len(named) == len(set(named))


@pytest.mark.parametrize("label, group", [
    ("campaigns.EmailLayout", "content"),        # named before it exists
    ("campaigns.CampaignAuditEntry", "campaigns"),
    ("campaigns.ForecastJob", "campaigns"),
    ("campaigns.ProviderSettings", "settings"),
    ("campaigns.Heartbeat", "other"),
    ("shop.Widget", "other"),
])
def test_a_model_no_group_names_goes_by_its_name_else_to_other(label, group):
    assert group_of(label).key == group


def test_a_newly_registered_model_shows_under_other(superuser_client):
    admin.site.register(Heartbeat)
    try:
        app_list = superuser_client.get(HOME).context["app_list"]
    finally:
        admin.site.unregister(Heartbeat)

    assert app_list[-1]["app_label"] == OTHER.key
    assert _models([app_list[-1]]) == ["campaigns.Heartbeat"]


def test_each_group_says_what_it_is_for(superuser_client):
    page = superuser_client.get(HOME).content.decode()

    for group in GROUPS:
        assert f'id="group-{group.key}"' in page
        assert escape(str(group.description)) in page


def test_the_home_follows_the_browsers_language(superuser_client):
    swedish = superuser_client.get(HOME, HTTP_ACCEPT_LANGUAGE="sv-SE,sv;q=0.9").content.decode()
    norwegian = superuser_client.get(HOME, HTTP_ACCEPT_LANGUAGE="nb-NO").content.decode()
    english = superuser_client.get(HOME, HTTP_ACCEPT_LANGUAGE="en-GB").content.decode()

    assert '<html lang="sv"' in swedish
    for title in ("Kunder", "Kampanjer", "Innehåll", "Lojalitet", "Insikter", "Inställningar"):
        assert f'class="section">{title}</a>' in swedish, title
    for title in ("Kunder", "Kampanjer", "Innhold", "Lojalitet", "Innsikt", "Innstillinger"):
        assert f'class="section">{title}</a>' in norwegian, title
    assert 'class="section">Customers</a>' in english
    # Model names too: the project's own texts, not only Django's.
    assert ">Kunder</a>" in swedish and ">Segment</a>" in swedish
    assert "Visa sida" in swedish and "Logga ut" in swedish


def test_the_switch_changes_the_language_keeps_the_page_and_is_remembered(superuser_client):
    page = reverse("admin:campaigns_campaign_changelist") + "?status=active"

    response = superuser_client.post(reverse("set_language"), {"language": "nb", "next": page},
                                     HTTP_ACCEPT_LANGUAGE="sv")

    assert response.status_code == 302 and response["Location"] == page
    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "nb" and int(cookie["max-age"]) >= 300 * 24 * 3600
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    # The browser still asks for Swedish: the choice wins.
    home = superuser_client.get(HOME, HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert '<html lang="nb"' in home and 'class="section">Innhold</a>' in home


def test_the_switch_is_on_every_page_the_login_page_too(superuser_client):
    pages = [HOME, reverse("admin:campaigns_campaign_changelist"),
             reverse("admin:campaigns_customer_changelist"), reverse("admin:password_change")]
    for url in pages:
        page = superuser_client.get(url).content.decode()
        assert f'action="{reverse("set_language")}"' in page, url
        assert 'value="sv"' in page and 'value="nb"' in page, url
        assert ">Svenska</button>" in page and ">Norsk (bokmål)</button>" in page, url
        assert f'name="next" value="{url}"' in page, url

    login = Client().get(reverse("admin:login"), HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert f'action="{reverse("set_language")}"' in login and "Användarnamn" in login


def test_a_bad_language_changes_nothing_and_is_no_error(superuser_client):
    response = superuser_client.post(reverse("set_language"),
                                     {"language": "xx<script>", "next": "https://evil.example/"})

    assert response.status_code == 302 and response["Location"] == "/"
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_view_site_leads_to_a_real_page(superuser_client):
    page = superuser_client.get(HOME).content.decode()

    assert '<a href="/">View site</a>' in page
    landing = Client().get("/", HTTP_ACCEPT_LANGUAGE="sv")
    assert landing.status_code == 200
    text = landing.content.decode()
    assert reverse("subscribe") in text and reverse("admin:index") in text
    assert settings.COMPANY_NAME in text and '<html lang="sv"' in text


def test_the_admins_javascript_catalog_is_served_by_the_app_in_the_chosen_language(
        superuser_client):
    superuser_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "sv"

    catalog = superuser_client.get(reverse("admin:jsi18n"))
    page = superuser_client.get(reverse("admin:campaigns_campaign_add")).content.decode()

    assert catalog.status_code == 200
    # The catalog holds its strings as JSON (non-ASCII as \\u escapes).
    assert json.dumps("Tillgängliga %s") in catalog.content.decode()
    assert reverse("admin:jsi18n") in page
    assert "//cdn" not in page and "https://" not in page.split("<body")[0]


def test_the_apps_own_page_keeps_djangos_list_and_the_sidebar_has_the_groups(superuser_client):
    response = superuser_client.get(reverse("admin:app_list", args=["campaigns"]))

    assert response.status_code == 200
    assert [app["app_label"] for app in response.context["app_list"]] == ["campaigns"]
    sidebar = response.context["available_apps"]
    assert sidebar[0]["app_label"] == "customers"
    assert sidebar[0]["app_url"] == f"{HOME}#group-customers"
