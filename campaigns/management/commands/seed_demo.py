"""Load the demo data (journeys, content, customers and their history) and print what was added."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from campaigns import clock
from campaigns.services.demo import demo_load
from campaigns.services.recommendations import recommendations_compute


class Command(BaseCommand):
    help = (
        "Add the lifecycle campaigns, their content, the default frequency policy and demo "
        "customers with fifteen months of orders, events, consent, emails, survey answers and "
        "lifecycle stages, and the dashboard's figures for that time. Safe to run again: adds "
        "only what is missing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--customers", type=int, default=200, help="How many demo customers (default 200)."
        )
        parser.add_argument(
            "--force", action="store_true",
            help="Run even with DEBUG off (demo customers do not belong in production).",
        )

    def handle(self, *args, customers: int, force: bool, **options):
        if customers < 0:
            raise CommandError("--customers must be 0 or more.")
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo adds made-up customers and consent records; with DEBUG off, "
                "pass --force if that is really wanted."
            )
        created = demo_load(customers=customers, history=True)
        if not any(created.values()):
            self.stdout.write("Demo data is already there: nothing added.")
            return
        # The nightly lists, now: the demo's emails show recommendations from the start.
        recommendations_compute(now=clock.now())
        summary = ", ".join(f"{name.replace('_', ' ')}: {n}" for name, n in created.items())
        self.stdout.write(self.style.SUCCESS(f"Demo data added ({summary})."))
