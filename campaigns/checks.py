"""System checks for settings that would silently break emails in production."""
from django.conf import settings
from django.core.checks import Error, Warning, register


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


# Backends that deliver nothing (files, memory, the console, tests): no provider posts back.
LOCAL_EMAIL_BACKENDS = {
    "campaigns.delivery.outbox.EmlFileBackend",
    "anymail.backends.test.EmailBackend",
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}


@register()
def webhook_secret_check(app_configs, **kwargs):
    """Without basic auth anyone can post fake bounces and complaints to the webhooks, and
    anymail would only warn and accept them: outside DEBUG this refuses to start (an
    error stops `migrate`, `runserver` and `check --deploy`). Every backend that really
    sends counts, SMTP and backends not known here included: a provider's SMTP relay has
    webhooks too."""
    if settings.DEBUG or (settings.EMAIL_BACKEND in LOCAL_EMAIL_BACKENDS
                          and not settings.WEBHOOK_PROVIDERS):
        return []
    if settings.ANYMAIL.get("WEBHOOK_SECRET"):
        return []
    return [Error(
        "ANYMAIL_WEBHOOK_SECRET is not set: the provider webhooks (/anymail/…/tracking/) "
        "accept posts from anyone, who could suppress addresses or withdraw consent.",
        hint="Set ANYMAIL_WEBHOOK_SECRET=user:password (a long random password) and put it "
             "in the webhook URL at the provider: https://user:password@host/anymail/….",
        id="campaigns.E103",
    )]


# Providers whose webhook posts anymail can only verify with a key of their own.
WEBHOOK_SIGNING_KEYS = {"mailgun": "MAILGUN_WEBHOOK_SIGNING_KEY"}


@register()
def webhook_signing_key_check(app_configs, **kwargs):
    """A provider in WEBHOOK_PROVIDERS whose signing key is missing refuses every post
    (403): its bounces and complaints would never arrive. Outside DEBUG that stops start-up."""
    if settings.DEBUG:
        return []
    return [Error(
        f"{provider} webhooks are on (WEBHOOK_PROVIDERS) but ANYMAIL_{key} is not set: "
        "every post from it is refused, so its bounces and complaints are lost.",
        hint=f"Set ANYMAIL_{key} to the key in the provider's webhook settings.",
        id="campaigns.E104",
    ) for provider, key in WEBHOOK_SIGNING_KEYS.items()
        if provider in settings.WEBHOOK_PROVIDERS and not settings.ANYMAIL.get(key)]


@register()
def suppression_hash_key_check(app_configs, **kwargs):
    if settings.DEBUG or getattr(settings, "SUPPRESSION_HASH_KEY", ""):
        return []
    return [Error(
        "SUPPRESSION_HASH_KEY is not set: the suppression list cannot be kept as keyed "
        "hashes (HMAC-SHA256), so erased, bounced and complained addresses would not be "
        "recognised.",
        hint="Set SUPPRESSION_HASH_KEY to a long random secret (e.g. `openssl rand -hex 32`), "
             "keep it outside the database and never change it.",
        id="campaigns.E101",
    )]


@register()
def retention_settings_check(app_configs, **kwargs):
    from campaigns.retention import retention_check

    return [Error(problem, hint="See README, Retention.", id="campaigns.E102")
            for problem in retention_check()]
