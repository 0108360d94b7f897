"""Print the loyalty and impact metrics for a period [from, to), as a table or as JSON."""
import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from campaigns.selectors.metrics import ATTRIBUTION_DAYS, metrics_for_period
from campaigns.stats import VARIANT_VERDICT_WORDS


def _moment(text: str, option: str) -> dt.datetime:
    """YYYY-MM-DD (midnight) or an ISO date-time; naive values are UTC, as the dashboard's
    days are UTC days (its snapshots are per UTC day), so both print the same numbers."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option} {text!r} is not a date: give YYYY-MM-DD, e.g. 2026-01-31.") from None
    return moment.replace(tzinfo=dt.timezone.utc) if timezone.is_naive(moment) else moment


def _fmt(value, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    return f"{value:,}{unit}"


def _ci(block: dict, scale: float = 1, unit: str = "", digits: int = 1) -> str:
    if block["difference"] is None:
        return "-"
    diff = _fmt(block["difference"] * scale, unit, digits)
    if block["ci_low"] is None:
        return diff
    return f"{diff} [{_fmt(block['ci_low'] * scale, unit, digits)}, {_fmt(block['ci_high'] * scale, unit, digits)}]"


class Command(BaseCommand):
    help = (
        "Loyalty and impact metrics for the period [--from, --to): NPS, CSAT, CES, retention, "
        "churn, repeat purchase rate, time between purchases, CLV, cohort retention and each "
        "campaign's lift over its holdout group. The formulas are in the README (Metrics)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", required=True, help="First day, YYYY-MM-DD (included).")
        parser.add_argument("--to", dest="end", required=True, help="Day after the last, YYYY-MM-DD (excluded).")
        parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")
        parser.add_argument("--attribution-days", type=int, default=ATTRIBUTION_DAYS,
                            help=f"Conversion window after a trigger or send (default {ATTRIBUTION_DAYS}).")

    def handle(self, *args, **options):
        start, end = _moment(options["start"], "--from"), _moment(options["end"], "--to")
        try:
            data = metrics_for_period(start, end, options["attribution_days"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2))
            return
        self._table(data)

    def _table(self, data):
        w = self.stdout.write
        w(f"Metrics for [{data['from']}, {data['to']})")
        rows = [
            ("NPS", _fmt(data["nps"]), f"{data['nps_answers']} answers"),
            ("CSAT (1-5)", _fmt(data["csat"], digits=2), f"{data['csat_answers']} answers"),
            ("CES (1-7)", _fmt(data["ces"], digits=2), f"{data['ces_answers']} answers"),
            ("Customers at start", _fmt(data["customers_at_start"]), ""),
            ("Customers at end", _fmt(data["customers_at_end"]), ""),
            ("New customers", _fmt(data["new_customers"]), ""),
            ("Retention rate", _fmt(data["retention_rate"], " %"), ""),
            ("Churn rate", _fmt(data["churn_rate"], " %"), ""),
            ("Repeat purchase rate", _fmt(data["repeat_purchase_rate"], " %"), ""),
            ("Avg days between purchases", _fmt(data["avg_days_between_purchases"]), ""),
            ("CLV (historic)", _fmt(data["clv"], digits=2), ""),
            ("CLV (predictive)", _fmt(data["predictive_clv"], digits=2), ""),
        ]
        for label, value, note in rows:
            w(f"  {label:<28}{value:>14}  {note}".rstrip())
        ref = data["referrals"]
        w("Referrals (word of mouth)")
        for label, value in (
            ("New customers", _fmt(ref["new_customers"])),
            ("Referred share", _fmt(ref["referred_share"], " %")),
            ("Invites sent", _fmt(ref["invites"])),
            ("Link clicks", _fmt(ref["clicks"])),
            ("Sign-ups (referred)", _fmt(ref["signups"])),
            ("First orders (referred)", _fmt(ref["first_orders"])),
            ("Retention referred / others", f"{_fmt(ref['referred_retention'], ' %')} / "
                                            f"{_fmt(ref['others_retention'], ' %')}"),
            ("CLV referred / others", f"{_fmt(ref['referred_clv'], digits=2)} / "
                                      f"{_fmt(ref['others_clv'], digits=2)}"),
            ("Promoters who referred", f"{_fmt(ref['promoters_referring'])} of "
                                       f"{_fmt(ref['promoters'])}"),
        ):
            w(f"  {label:<28}{value:>14}".rstrip())
        if data["cohort_retention"]:
            w("Cohort retention (% with an order in month 0, 1, 2, ...)")
            for row in data["cohort_retention"]:
                cells = " ".join(f"{_fmt(v, digits=0):>4}" for v in row["retention"])
                w(f"  {row['cohort']}  n={row['size']:<6} {cells}")
        for item in data["lift"]:
            t, h, lift = item["treated"], item["holdout"], item["lift"]
            w(f"Campaign {item['campaign']} (#{item['campaign_id']}), {item['attribution_days']}-day window")
            w(f"  treated {t['customers']}: conversion {_fmt(_pct(t['conversion_rate']), ' %')}, "
              f"revenue/customer {_fmt(t['revenue_per_customer'], digits=2)}")
            w(f"  holdout {h['customers']}: conversion {_fmt(_pct(h['conversion_rate']), ' %')}, "
              f"revenue/customer {_fmt(h['revenue_per_customer'], digits=2)}")
            w(f"  lift: conversion {_ci(lift['conversion_rate'], 100, ' pp')}; "
              f"revenue/customer {_ci(lift['revenue_per_customer'], 1, '', 2)} (95 % CI)")
            w(f"  {lift['conversion_rate']['verdict_words']}")
        for item in data["ab_variants"]:
            w(f"A/B test in {item['campaign']} (#{item['campaign_id']}), step #{item['step_id']}, "
              f"control {item['control']}")
            for v in item["variants"]:
                vs = v["vs_control"]
                verdict = VARIANT_VERDICT_WORDS[vs["conversion_rate"]["verdict"]] if vs else ""
                extra = (f"; vs control {_ci(vs['conversion_rate'], 100, ' pp')} — {verdict}"
                         if vs else "")
                w(f"  {v['variant']}: {v['sends']} sent, {v['opens']} opened, {v['clicks']} clicked, "
                  f"{v['conversions']} converted, revenue {_fmt(v['revenue'], digits=2)}{extra}")


def _pct(rate):
    return rate * 100 if rate is not None else None
