"""Build the dashboard's metric snapshots now: what beat does every night, or a backfill."""
import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from campaigns import clock
from campaigns.services.snapshots import REBUILD_DAYS, metric_snapshots_build


class Command(BaseCommand):
    help = (
        "Snapshot the impact dashboard's numbers for every closed UTC day not snapshotted yet "
        f"and the last {REBUILD_DAYS} days again (what beat runs every night), or every day "
        "from --from (a backfill, e.g. after importing history). The first run on a database "
        "snapshots every day since the first with data."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="since",
                            help="Snapshot every day from this one (YYYY-MM-DD, UTC) again.")

    def handle(self, *args, **options):
        since = None
        if options["since"]:
            try:
                since = dt.date.fromisoformat(options["since"])
            except ValueError:
                raise CommandError(
                    f"--from {options['since']!r} is not a date: give YYYY-MM-DD, e.g. 2026-01-31."
                ) from None
        try:
            summary = metric_snapshots_build(now=clock.now(), since=since)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Snapshotted {summary['days']} days from {summary['from']} through "
                          f"{summary['through']} (not included): {summary['rows']} rows.")
