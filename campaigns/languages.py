"""Which of the site's languages (settings.LANGUAGES) a customer's locale reads. Pure."""
from django.conf import settings

# Locales that read another language's texts: Norwegian (no, nn) reads bokmål.
LANGUAGE_ALIASES = {"no": "nb", "nn": "nb"}


def site_language(locale: str) -> str | None:
    """The site language for a locale (sv-SE -> sv, no -> nb), or None if the site has none."""
    language = (locale or "").replace("_", "-").split("-")[0].lower()
    language = LANGUAGE_ALIASES.get(language, language)
    return language if language in {code for code, _ in settings.LANGUAGES} else None
