"""Shared by export_customer and erase_customer: who the request names."""
from django.core.management.base import CommandError


def identity_arguments(parser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--email", help="The customer's email address (case does not matter).")
    group.add_argument("--external-id", dest="external_id", help="The shop's customer id.")


def identity_words(options) -> str:
    return ("external id " + repr(options["external_id"]) if options["external_id"] is not None
            else "this email address")


def require_nonblank(options) -> None:
    value = options["external_id"] if options["external_id"] is not None else options["email"]
    if not (value or "").strip():
        raise CommandError("Give a non-empty --email or --external-id.")
