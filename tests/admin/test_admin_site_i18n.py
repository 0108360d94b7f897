"""The Swedish and Norwegian catalogs are complete: no untranslated or fuzzy entry, the
committed .mo is the compiled .po, and every model the admin shows has its name translated.

`make messages-check` runs this module alone: after `make messages` collects new strings,
it lists the ones still to translate.
"""
import ast
import gettext
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
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
    import re

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
