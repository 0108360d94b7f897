"""Erase a customer's personal data for good and keep their address suppressed (Art. 17)."""
from django.core.management.base import BaseCommand, CommandError

from campaigns.services.gdpr import (
    customers_erase, customers_matching, erased_address_suppress,
)

from ._privacy import identity_arguments, identity_words, require_nonblank


class Command(BaseCommand):
    help = ("Irreversibly anonymise every customer with this email address (or this external "
            "id): profile, attributes, event properties, consent proof, message subjects, "
            "survey comments. Aggregates stay; the address stays only as a keyed hash on the "
            "suppression list. Asks for confirmation unless --noinput. Safe to run twice.")

    def add_arguments(self, parser):
        identity_arguments(parser)
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive",
                            help="Do not ask for confirmation.")

    def handle(self, *args, **options):
        require_nonblank(options)
        customers = list(customers_matching(email=options["email"],
                                            external_id=options["external_id"]).order_by("pk"))
        if not customers:
            if options["email"] is None:
                raise CommandError(f"No customer has {identity_words(options)} (an erased "
                                   "customer no longer carries the shop's id).")
            created = erased_address_suppress(email=options["email"])
            self.stdout.write("No customer data is held for this address; it is on the "
                              "suppression list" + (" now." if created else " already."))
            return
        ids = ", ".join(c.external_id for c in customers)
        if options["interactive"]:
            answer = self._ask(f"This irreversibly erases {len(customers)} customer(s) "
                               f"(external ids: {ids}).\nType 'yes' to continue: ")
            if answer != "yes":
                self.stdout.write("Erasure cancelled; nothing was changed.")
                return
        records = customers_erase(customer_ids=[c.pk for c in customers], actor="command")
        self.stdout.write(f"Erased {len(records)} customer(s); the address is suppressed. "
                          f"Audit record(s): {', '.join(f'#{r.pk}' for r in records)}.")
        if records and records[0].counts:
            for key, count in sorted(records[0].counts.items()):
                self.stdout.write(f"  {key.replace('_', ' ')}: {count}")

    def _ask(self, prompt: str) -> str:
        try:
            return input(prompt).strip().lower()
        except EOFError:
            return ""
