"""Recompute every customer's RFM scores and lifecycle stage now (beat does it nightly)."""
import time

from django.core.management.base import BaseCommand, CommandError

from campaigns.services.rfm import customers_score, score_counts_words


class Command(BaseCommand):
    help = (
        "Recompute RFM quintiles and lifecycle stages for every customer, in one "
        "transaction. Stage changes become lifecycle.<stage> events. Safe to run at any time."
    )

    def handle(self, *args, **options):
        started = time.perf_counter()
        try:
            report = customers_score()
        except ValueError as exc:  # thresholds in the environment that contradict each other
            raise CommandError(str(exc)) from exc
        elapsed = time.perf_counter() - started
        self.stdout.write(f"{score_counts_words(report)} in {elapsed:.1f} s.")
        for stage, count in sorted(report.by_stage.items()):
            self.stdout.write(f"  {stage}: {count:,}")
