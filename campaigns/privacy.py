"""What the controller tells a data subject (GDPR Art. 13-15): the facts in every export.

Pure: no queries; reads settings at call time.
"""
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from campaigns.languages import site_language
from campaigns.retention import RETENTION, Action, retention_days


def controller() -> dict:
    return {"name": settings.COMPANY_NAME, "address": settings.COMPANY_ADDRESS,
            "contact": settings.DEFAULT_FROM_EMAIL}


def _retention_lines() -> dict:
    lines = {}
    for name, rule in RETENTION.items():
        if rule.action == Action.WITH_CUSTOMER:
            period = "as long as you are our customer"
        elif rule.action == Action.KEEP:
            period = "kept"
        else:
            days = retention_days(name)
            period = "kept" if days is None else f"{days} days"
        lines[name] = f"{period}: {rule.why}"
    return lines


def article_15_facts() -> dict:
    return {
        "purposes": [
            "Sending you the emails you agreed to (welcome, offers, loyalty news, surveys) "
            "or that follow from your purchases, on the legal ground recorded in the consent "
            "log: your consent, or our existing customer relationship where the law allows.",
            "Measuring what those emails changed (campaign numbers, survey scores).",
            "Keeping your 'no' for good: a keyed hash of your address stays on our "
            "suppression list after an unsubscribe, erasure, bounce or complaint.",
        ],
        "categories": [
            "identity and contact (name, email address, the shop's customer id)",
            "profile (language, time zone, country, custom attributes)",
            "purchases and other events the shop sends us",
            "consent and subscription choices with their proof",
            "the emails sent to you and what happened to them",
            "survey answers, loyalty points",
        ],
        "source": "The shop you bought from or signed up with, and your own answers "
                  "(preference centre, surveys).",
        "recipients": [
            "Our email service provider, as our processor, to deliver the emails.",
            "No one else; your data is not sold.",
        ],
        "profiling": "We compute scores from your orders (recency, frequency, spend) and a "
                     "lifecycle stage, and group customers into segments to choose which "
                     "emails to send. No decision with legal or similarly significant "
                     "effects is made by these means.",
        "retention": _retention_lines(),
        "your_rights": [
            "access and a copy of your data (this document)",
            "correction of wrong data",
            "erasure ('right to be forgotten')",
            "restriction of processing",
            "data portability (this document is machine-readable JSON)",
            "objection to direct marketing at any time, free: the unsubscribe link in "
            "every marketing email",
            "withdrawal of consent at any time, without affecting earlier processing",
            "a complaint to a supervisory authority, e.g. IMY (Sweden, imy.se) or "
            "Datatilsynet (Norway, datatilsynet.no)",
        ],
    }


def _in_customers_language(customer):
    return translation.override(site_language(customer.locale) or settings.LANGUAGE_CODE)


def export_email_subject(customer) -> str:
    with _in_customers_language(customer):
        return gettext("Your data at %(company)s") % {"company": settings.COMPANY_NAME}


def export_email_text(customer) -> str:
    """The export email's text, in the customer's language (Swedish, Norwegian or English)."""
    with _in_customers_language(customer):
        return gettext(
            "Hello,\n\n"
            "You asked for a copy of the data %(company)s holds about you. It is attached as "
            "customer-data.json, a machine-readable file that also explains why we hold the "
            "data, who receives it, how long we keep it and your rights.\n\n"
            "If you did not ask for this, you can ignore this email: it was sent only to this "
            "address.\n\n"
            "%(company)s, %(address)s\n"
        ) % {"company": settings.COMPANY_NAME, "address": settings.COMPANY_ADDRESS}
