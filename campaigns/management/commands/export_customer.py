"""Print everything held about one customer as JSON (GDPR Art. 15 / 20)."""
from django.core.management.base import BaseCommand, CommandError

from campaigns.models import PrivacyRequest
from campaigns.services.gdpr import (
    customer_export, customers_matching, export_json, privacy_request_record,
)

from ._privacy import identity_arguments, identity_words, require_nonblank


class Command(BaseCommand):
    help = ("Print one JSON document with everything held about a customer, and the Art. 15 "
            "facts, to stdout. The request is recorded (no personal data in the record).")

    def add_arguments(self, parser):
        identity_arguments(parser)

    def handle(self, *args, **options):
        require_nonblank(options)
        customers = list(customers_matching(email=options["email"],
                                            external_id=options["external_id"]).order_by("pk"))
        if not customers:
            raise CommandError(f"No customer has {identity_words(options)}.")
        if len(customers) > 1:
            ids = ", ".join(c.external_id for c in customers)
            raise CommandError(f"{len(customers)} customers have this email address (external "
                               f"ids: {ids}); export each with --external-id.")
        customer = customers[0]
        self.stdout.write(export_json(customer_export(customer=customer)))
        privacy_request_record(kind=PrivacyRequest.Kind.EXPORT, customer_id=customer.pk,
                               actor="command")
