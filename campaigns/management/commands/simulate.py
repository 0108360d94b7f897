"""Run the scheduler over a span of virtual time and print what happened per campaign."""
import datetime as dt
import re

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from campaigns.services.simulation import simulation_dry_run, simulation_run

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_step(text: str) -> dt.timedelta:
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match or int(match.group(1)) == 0:
        raise CommandError(f"--step {text!r}: give a number and a unit, e.g. 30s, 15m, 1h, 1d")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_moment(text: str, option: str) -> dt.datetime:
    value = parse_datetime(text) if "T" in text or " " in text else parse_datetime(text + "T00:00:00")
    if value is None:
        raise CommandError(f"{option} {text!r}: not an ISO 8601 date or datetime")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value


def mask(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


class Command(BaseCommand):
    help = (
        "Run the scheduler on a virtual clock from --start to --end, in-process, for any span "
        "past or future (campaigns plan from --start when they had planned past it). Sends "
        "go through the configured email backend, each dated at its virtual moment. With "
        "--dry-run nothing is sent or stored (a sandbox); it prints who would get what, when."
    )

    def add_arguments(self, parser):
        parser.add_argument("--start", required=True, help="ISO 8601; UTC when no offset")
        parser.add_argument("--end", required=True, help="ISO 8601; UTC when no offset")
        parser.add_argument("--step", default="15m", help="tick interval, e.g. 1m, 15m, 1h")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, start, end, step, dry_run, **options):
        start_at, end_at = parse_moment(start, "--start"), parse_moment(end, "--end")
        if end_at <= start_at:
            raise CommandError("--end must be after --start")
        tick = parse_step(step)
        would_send = []
        rewarded = []

        def count_rewards(moment, report):
            rewarded.append(report.referral_rewards)

        if dry_run:
            summary = simulation_dry_run(start=start_at, end=end_at, step=tick, collect=would_send,
                                         on_tick=count_rewards)
        else:
            summary = simulation_run(start=start_at, end=end_at, step=tick, on_tick=count_rewards)
        if dry_run:
            self.stdout.write(f"Dry run: {len(would_send)} email(s) would be sent; nothing was stored.")
            for email in would_send:
                self.stdout.write(
                    f"  {email.extra_headers.get('Date', '?')}  {mask(email.to[0])}  "
                    f"[{','.join(getattr(email, 'tags', []) or [])}]  {email.subject}"
                )
        self.stdout.write(f"Simulated {start_at.isoformat()} .. {end_at.isoformat()} every {step}.")
        if sum(rewarded):
            self.stdout.write(f"Referral rewards: {sum(rewarded)} referral(s) rewarded.")
        if not summary:
            self.stdout.write("No campaign did anything in this span.")
        for name, entry in sorted(summary.items()):
            self.stdout.write(
                f"{name}: enrolled {entry.enrolled}, sent {entry.sent}, deferred {entry.deferred}"
                + "".join(
                    f", {label} {sum(counter.values())} ({', '.join(f'{r}: {n}' for r, n in sorted(counter.items()))})"
                    for label, counter in (("skipped", entry.skipped), ("expired", entry.expired),
                                           ("failed", entry.failed)) if counter
                )
            )
