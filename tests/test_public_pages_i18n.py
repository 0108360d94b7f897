"""The public pages speak the customer's language: Swedish, Norwegian or English."""
import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from campaigns.tokens import unsubscribe_token
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
LOCALE_DIR = Path(settings.BASE_DIR) / "locale"


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()


def _html_lang(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.content.decode()).group(1)


@pytest.mark.parametrize("locale, language, heading, button", [
    ("sv-SE", "sv", "Dina e-postinställningar", "Avsluta alla utskick"),
    ("sv", "sv", "Dina e-postinställningar", "Avsluta alla utskick"),
    ("nb-NO", "nb", "Dine e-postinnstillinger", "Meld meg av alt"),
    ("no", "nb", "Dine e-postinnstillinger", "Meld meg av alt"),
    ("en", "en", "Your email preferences", "Unsubscribe from everything"),
])
def test_the_preference_centre_is_in_the_customers_language(client, locale, language, heading, button):
    customer = CustomerFactory(locale=locale)

    response = client.get(f"/u/{unsubscribe_token(customer_id=customer.pk)}",
                          HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")

    page = response.content.decode()
    assert response.status_code == 200
    assert heading in page and button in page
    assert _html_lang(response) == language and response["Content-Language"] == language


def test_the_topics_are_named_in_the_customers_language(client):
    customer = CustomerFactory(locale="sv-SE")

    page = client.get(f"/u/{unsubscribe_token(customer_id=customer.pk)}").content.decode()

    for label in ("Erbjudanden", "Enkäter", "Nyheter från kundklubben"):
        assert label in page
    assert "Loyalty news" not in page


def test_the_one_click_answer_speaks_the_links_language_the_same_for_any_token(client):
    customer = CustomerFactory(locale="nb-NO")
    real = f"/u/{unsubscribe_token(customer_id=customer.pk)}?lang=nb"

    answers = [client.post(path, {"List-Unsubscribe": "One-Click"}, HTTP_ACCEPT_LANGUAGE="en")
               for path in (real, "/u/forged-token?lang=nb")]

    assert {a.status_code for a in answers} == {200}
    assert answers[0].content == answers[1].content
    assert "Du er meldt av" in answers[0].content.decode()


def test_the_links_in_a_swedish_email_open_swedish_pages(frozen_clock, welcome, policy):
    from django.core import mail

    from tests.helpers import consenting_customer, run_tick
    from tests.factories import EventFactory

    customer = consenting_customer(locale="sv-SE")
    EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)
    run_tick(frozen_clock.now)

    url = mail.outbox[0].extra_headers["List-Unsubscribe"].strip("<>")
    assert url.endswith("?lang=sv")
    path = url.split("://", 1)[1].split("/", 1)[1]
    browser = Client(HTTP_ACCEPT_LANGUAGE="en-US")
    assert "Dina e-postinställningar" in browser.get(f"/{path}").content.decode()
    assert "Du är avregistrerad" in browser.post(f"/{path}").content.decode()


def test_a_customer_with_a_language_we_do_not_have_gets_the_browsers(client):
    customer = CustomerFactory(locale="de-DE")
    path = f"/u/{unsubscribe_token(customer_id=customer.pk)}"

    swedish = client.get(path, HTTP_ACCEPT_LANGUAGE="sv-SE,sv;q=0.9,en;q=0.5")
    german = client.get(path, HTTP_ACCEPT_LANGUAGE="de-DE")

    assert "Dina e-postinställningar" in swedish.content.decode()
    assert _html_lang(german) == "en" and "Your email preferences" in german.content.decode()


def test_a_forged_token_gets_the_browsers_language_and_reveals_nothing(client):
    response = client.get("/u/not-a-token", HTTP_ACCEPT_LANGUAGE="nb")

    assert response.status_code == 200
    assert "Vil du melde deg av e-postene våre?" in response.content.decode()


def test_a_bad_pause_date_is_explained_in_the_customers_language(client):
    customer = CustomerFactory(locale="sv-SE")
    path = f"/u/{unsubscribe_token(customer_id=customer.pk)}"
    client.get(path)

    response = client.post(f"{path}/pause", {"until": "1999-01-01",
                                            "csrfmiddlewaretoken": client.cookies["csrftoken"].value})

    assert response.status_code == 400
    assert "Välj ett datum efter i dag och högst 365 dagar framåt." in response.content.decode()


def test_the_subscription_page_follows_its_lang_parameter_and_errors_too():
    client = Client(enforce_csrf_checks=False)

    page = client.get("/subscribe?lang=nb")
    refused = client.post("/subscribe", {"email": "not-an-address", "locale": "nb"})

    assert "Hold deg oppdatert" in page.content.decode()
    assert refused.status_code == 400
    body = refused.content.decode()
    # Django's own Norwegian for the form's errors, our Norwegian for the page.
    assert "Oppgi en gyldig e-postadresse" in body and "Hold deg oppdatert" in body


def test_the_privacy_pages_are_in_the_links_language(client):
    customer = CustomerFactory(locale="sv-SE")
    path = f"/privacy/{unsubscribe_token(customer_id=customer.pk)}/export"

    assert "En kopia av dina uppgifter" in client.get(f"{path}?lang=sv").content.decode()
    assert "Begäran mottagen" in client.post(f"{path}?lang=sv").content.decode()


def _po_entries(path: Path) -> dict[str, str]:
    """msgid -> msgstr of a .po file's singular entries (plural ones are the admin's)."""
    entries, current, field = {}, {}, None
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if line.startswith(("msgid ", "msgstr ")):
            field, _, value = line.partition(" ")
            current[field] = ast.literal_eval(value)
        elif line.startswith('"') and field:
            current[field] += ast.literal_eval(line)
        elif not line.strip():
            if current.get("msgid") and "msgstr" in current:
                entries[current["msgid"]] = current["msgstr"]
            current, field = {}, None
        else:
            field = None if line.startswith("msgid_plural") or line.startswith("msgstr[") else field
    return entries


@pytest.mark.parametrize("language", ["sv", "nb"])
def test_every_public_page_text_is_translated_and_compiled(language):
    po = LOCALE_DIR / language / "LC_MESSAGES" / "django.po"
    with open(po.with_suffix(".mo"), "rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    entries = _po_entries(po)
    texts = set()
    for template in (Path(settings.BASE_DIR) / "templates" / "campaigns").glob("*.html"):
        texts |= set(re.findall(r'{% translate "([^"]+)" %}', template.read_text()))

    assert texts and texts <= set(entries), f"not in the .po: {texts - set(entries)}"
    for msgid in texts:
        assert entries[msgid], f"{language}: no translation for {msgid!r}"
        # The committed .mo is the compiled .po (run `make messages` after editing it).
        assert compiled.gettext(msgid) == entries[msgid], msgid
