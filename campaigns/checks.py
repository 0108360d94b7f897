"""System checks for settings that would silently break emails in production."""
from django.conf import settings
from django.core.checks import Warning, register


@register()
def site_url_check(app_configs, **kwargs):
    problems = []
    if not settings.DEBUG and not settings.SITE_URL.startswith("https://"):
        problems.append(Warning(
            f"SITE_URL is {settings.SITE_URL!r}: mail providers (Gmail, Yahoo) only offer "
            "one-click unsubscribe for https links (RFC 8058).",
            hint="Set SITE_URL to the public https address of this app.",
            id="campaigns.W001",
        ))
    return problems
