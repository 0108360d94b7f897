"""The Swedish and Norwegian catalogs are complete: no untranslated or fuzzy entry, the
committed .mo is the compiled .po, every model the admin shows has its name translated, and
the pages a marketer works in show no English of ours in either language.

`make messages-check` runs this module alone: after `make messages` collects new strings,
it lists the ones still to translate.
"""
import ast
import gettext
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.urls import reverse
from django.utils import translation
from django.utils.functional import Promise

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
LANGUAGES = ["sv", "nb"]


def po_entries(path: Path) -> list[dict]:
    """Each entry of a .po file: msgid, msgid_plural, msgstr (or msgstr[n]) and its flags."""
    entries, current, field = [], {"flags": set()}, None
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if line.startswith("#,"):
            current["flags"] |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#~"):
            current["obsolete"] = True
        elif line.startswith(("msgid ", "msgid_plural ", "msgstr ", "msgstr[")):
            field, _, value = line.partition(" ")
            current[field] = ast.literal_eval(value)
        elif line.startswith('"') and field:
            current[field] += ast.literal_eval(line)
        elif not line.strip():
            if current.get("msgid") and not current.get("obsolete"):
                entries.append(current)
            current, field = {"flags": set()}, None
    return entries


def _translations(entry: dict) -> list[str]:
    return [value for key, value in entry.items() if key.startswith("msgstr")]


def _catalog(language: str) -> list[dict]:
    return po_entries(LOCALE_DIR / language / "LC_MESSAGES" / "django.po")


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_entry_is_untranslated_or_fuzzy(language):
    missing = [entry["msgid"] for entry in _catalog(language)
               if not all(_translations(entry)) or "fuzzy" in entry["flags"]]

    assert not missing, (f"{len(missing)} {language} entries to translate (locale/{language}/"
                         "LC_MESSAGES/django.po, then `make messages`):\n" + "\n".join(missing))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_mo_is_the_compiled_po(language):
    with open(LOCALE_DIR / language / "LC_MESSAGES" / "django.mo", "rb") as handle:
        compiled = gettext.GNUTranslations(handle)

    for entry in _catalog(language):
        if "msgid_plural" in entry:
            assert compiled.ngettext(entry["msgid"], entry["msgid_plural"], 1) == entry["msgstr[0]"]
        else:
            assert compiled.gettext(entry["msgid"]) == entry["msgstr"], entry["msgid"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_placeholders_survive_translation(language):
    placeholder = re.compile(r"%\(\w+\)[sd]|\{\w*\}")
    for entry in _catalog(language):
        expected = sorted(placeholder.findall(entry["msgid"]))
        for value in _translations(entry):
            assert sorted(placeholder.findall(value)) == expected, (entry["msgid"], value)


# Model modules whose names may stay plain strings: none since issue 14 wrapped them all.
NOT_YET_WRAPPED: set[str] = set()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_model_on_the_admin_home_is_named_in_the_language(language):
    translated = {entry["msgid"] for entry in _catalog(language) if all(_translations(entry))}
    names, unwrapped = set(), set()
    for model in admin.site._registry:
        if model._meta.app_label != "campaigns":
            continue  # Django's own (users, groups) come translated with Django.
        if not isinstance(model._meta.verbose_name, Promise):
            unwrapped.add(model.__module__)
            continue
        with translation.override("en"):
            names |= {str(model._meta.verbose_name), str(model._meta.verbose_name_plural)}

    assert names and not names - translated, (
        f"{language}: not translated: {sorted(names - translated)}")
    assert unwrapped <= NOT_YET_WRAPPED, f"model names not in gettext_lazy: {unwrapped}"


# -- the pages themselves ------------------------------------------------------------------

# Words English has and Swedish and Norwegian do not: any of them in a page's text, once the
# shop's own data (names, subjects) is taken out, is a string of ours that escaped gettext.
ENGLISH_WORDS = re.compile(
    r"\b(the|and|of|with|your|this|that|are|not|has|have|will|been|from|when|what|which|"
    r"there|their|than|yet|campaign|campaigns|customer|customers|template|email|emails|"
    r"sent|days|step|none|wait|save|change|show|results|holdout|forecast)\b", re.IGNORECASE)
# Words the languages have too ("för sent" / "for sent" is "too late").
ALSO_THE_LANGUAGES = {"sv": {"sent"}, "nb": {"sent"}}
# Django's own words its Swedish or Norwegian catalog lacks (not ours to translate).
DJANGO_OWN = ["Skip to main content", "Toggle theme (current theme: auto)",
              "Toggle theme (current theme: light)", "Toggle theme (current theme: dark)",
              "Start typing to filter…", "Filter navigation items", "Breadcrumbs", "Sidebar",
              "Toggle navigation", "Select all objects on this page for an action",
              "Select this object for an action - ", "Show counts"]
# Still English, in files outside this change (issue 14): a message's name (its model's
# __str__, campaigns/models/deliveries.py) and a segment condition in words (the rule
# catalogue, campaigns/segmentation/catalogue.py, shared with the rule builder's script).
KNOWN_LEFT = [re.compile(r"#\d+ (sent|skipped|pending|expired|failed)\b"),
              re.compile(r"number of orders in the last \d+ days")]
# Template variables as written in a template ({{ customer.first_name }}) are code.
_CODE = re.compile(r"{{.*?}}|{%.*?%}")


class _Text(HTMLParser):
    """A page's visible text, and its titles and labels, one chunk each."""

    def __init__(self):
        super().__init__()
        self.chunks, self._hidden = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "textarea", "pre", "code", "iframe"):
            self._hidden += 1
        attrs = dict(attrs)
        self.chunks += [attrs[a] for a in ("title", "placeholder", "aria-label", "alt") if attrs.get(a)]
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.chunks.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style", "textarea", "pre", "code", "iframe") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden and data.strip():
            self.chunks.append(" ".join(data.split()))


def _key_pages() -> dict[str, str]:
    from campaigns.models import Campaign, Customer, EmailLayout, Message, Segment

    campaign = Campaign.objects.get(slug="welcome")
    customer = Message.objects.filter(state="sent").order_by("pk").first().customer
    sent = Message.objects.filter(state="sent").order_by("pk").first()
    segment = Segment.objects.order_by("pk").first()
    other = Customer.objects.exclude(pk=customer.pk).order_by("pk").first()
    return {
        "home": reverse("admin:index"),
        "campaign list": reverse("admin:campaigns_campaign_changelist"),
        "campaign page": reverse("admin:campaigns_campaign_change", args=[campaign.pk]),
        "new campaign": reverse("admin:campaigns_campaign_add"),
        "starters": reverse("admin:campaigns_campaign_start"),
        "campaign history": reverse("admin:campaigns_campaign_history", args=[campaign.pk]),
        "template page": reverse("admin:campaigns_messagetemplate_change",
                                 args=[campaign.steps.get().template_id]),
        "template list": reverse("admin:campaigns_messagetemplate_changelist"),
        "layout page": reverse("admin:campaigns_emaillayout_change",
                               args=[EmailLayout.objects.order_by("pk").first().pk]),
        "message page": reverse("admin:campaigns_message_change", args=[sent.pk]),
        "message as sent": reverse("admin:campaigns_message_as_sent", args=[sent.pk]),
        "customer page": reverse("admin:campaigns_customer_change", args=[customer.pk]),
        "customer list": reverse("admin:campaigns_customer_changelist"),
        "segment list": reverse("admin:campaigns_segment_changelist"),
        "segment page": reverse("admin:campaigns_segment_change", args=[segment.pk]),
        "dashboard": reverse("admin:campaigns_dashboard_changelist"),
        "deliverability": reverse("admin:campaigns_deliverability_changelist"),
        "frequency policy": reverse("admin:campaigns_frequencypolicy_changelist"),
        "why not in a segment": reverse("admin:campaigns_segment_explain",
                                        args=[segment.pk, other.pk]),
    }


def _shop_words() -> list[str]:
    """The shop's own data that may be English (names, subjects), longest first."""
    from campaigns.models import Campaign, Customer, Message, MessageTemplate, Segment

    words = [*Campaign.objects.values_list("name", flat=True),
             *Segment.objects.values_list("name", flat=True),
             *MessageTemplate.objects.values_list("name", flat=True),
             *Message.objects.exclude(subject="").values_list("subject", flat=True),
             *(str(c) for c in Customer.objects.all())]
    return sorted(set(words), key=len, reverse=True)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_marketers_pages_show_no_english_of_ours(admin_client, shop, language):
    data = _shop_words()
    english = {}
    for page, url in _key_pages().items():
        response = admin_client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, (page, response.status_code)
        parser = _Text()
        parser.feed(response.content.decode())
        for chunk in parser.chunks:
            for text in (*data, *DJANGO_OWN):
                chunk = chunk.replace(text, "")
            for pattern in (_CODE, *KNOWN_LEFT):
                chunk = pattern.sub("", chunk)
            words = {w.lower() for w in ENGLISH_WORDS.findall(chunk)}
            if words - ALSO_THE_LANGUAGES[language]:
                english.setdefault(page, []).append(chunk)

    assert not english, f"{language}: English on the page:\n" + "\n".join(
        f"{page}: {chunk}" for page, chunks in english.items() for chunk in chunks)
