"""Referrals benchmark: the dashboard's word-of-mouth section on 1,000,000 customers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lcrm_bench_ref \\
        .venv/bin/python benchmarks/referrals_bench.py --customers 1000000 --runs 5
    .venv/bin/python benchmarks/referrals_bench.py --reuse      # keep the data of an earlier run

It needs a scratch PostgreSQL database in DATABASE_URL (it migrates and, unless --reuse
finds the data there, flushes it). Every table is filled by INSERT … SELECT generate_series
over the ~13 months before a fixed "now" (2026-03-02 10:00 UTC): customers created over
those months, placed orders (4 % refunded), ~5 % of the customers referred by another one
(counted, half with a first order and both sides rewarded) and 0.5 % with a code that did
not count, a referral code for every tenth customer and clicks on them, invite emails
(`referral_invite`) and NPS answers to them. Then it prints:

* the referral snapshots' cost: every month from scratch (`referral_rows`, a fresh
  install's backfill) and a night's (the open month and the one before), and the whole
  nightly build (`metric_snapshots_build`, every kind) from scratch;
* the word-of-mouth section alone (`referral_section`, what the page computes for it) and
  the whole dashboard page (the admin view through Django's test client as a superuser,
  default period), each the median of --runs after a warm-up, and the load average.
"""
import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyaltycrm.settings.base")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from campaigns import clock  # noqa: E402
from campaigns import models as m  # noqa: E402
from campaigns.services.demo import demo_load  # noqa: E402

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SPAN_MINUTES = 400 * 1440
YEAR_MINUTES = 366 * 1440


def _sql(statement: str, params=None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or {})
        return cursor.rowcount


def _timed(label: str, work):
    started = time.perf_counter()
    result = work()
    print(f"  {label}: {time.perf_counter() - started:,.1f} s", flush=True)
    return result


def data_build(customers: int, orders: int, invites: int, clicks: int) -> None:
    p = {"now": NOW, "n": customers, "span": SPAN_MINUTES, "year": YEAR_MINUTES}
    _sql("SET synchronous_commit TO off")
    _timed(f"{customers:,} customers", lambda: _sql(
        """INSERT INTO campaigns_customer (created_at, updated_at, external_id, email, first_name,
               last_name, locale, time_zone, country, signed_up_at, first_order_at, last_order_at,
               order_count, total_spent, points_balance, tier, tier_points, marketing_consent,
               attributes, lifecycle_stage)
           SELECT t, t, 'r-' || g, 'r' || g || '@example.com', 'Kari', 'Nordmann', 'nb',
               'Europe/Oslo', 'NO', t, NULL, NULL, 0, 0, 0, '', 0, true, '{}', ''
           FROM generate_series(1, %(n)s) AS g,
                LATERAL (SELECT %(now)s - interval '1 minute'
                         * ((%(n)s - g)::bigint * %(span)s / %(n)s) AS t) AS c
           ORDER BY g""", p))
    p["low"] = m.Customer.objects.order_by("id").values_list("id", flat=True)[0]
    p["o"] = orders
    _timed(f"{orders:,} orders", lambda: _sql(
        """INSERT INTO campaigns_order (created_at, updated_at, customer_id, external_id, amount,
               currency, placed_at, status)
           SELECT c.created_at, c.created_at, c.id, 'ro-' || g, 50 + g %% 400, 'SEK',
               c.created_at + (%(now)s - c.created_at) * ((g::bigint * 7907) %% 1000) / 1000.0,
               CASE WHEN g %% 25 = 0 THEN 'refunded' ELSE 'placed' END
           FROM generate_series(1, %(o)s) AS g
           JOIN campaigns_customer c ON c.id = %(low)s + (g::bigint * 104729) %% %(n)s
           ORDER BY 7""", p))
    _timed("referral codes (every tenth customer)", lambda: _sql(
        """INSERT INTO campaigns_referralcode (customer_id, code, created_at)
           SELECT id, 'RC' || id, created_at FROM campaigns_customer
           WHERE (id - %(low)s) %% 10 = 1""", p))
    # A referred customer's referrer: a customer with a code, created before them.
    _timed("referrals (5 % counted, 0.5 % ignored)", lambda: _sql(
        """INSERT INTO campaigns_referral (referred_id, referrer_id, code, status, reason, source,
               referred_at, first_order_at, reward, reward_note, referrer_points, friend_points,
               rewarded_at)
           SELECT c.id, CASE WHEN counted THEN r.id END,
               CASE WHEN counted THEN 'RC' || r.id ELSE 'nope' END,
               CASE WHEN counted THEN 'counted' ELSE 'ignored' END,
               CASE WHEN counted THEN '' ELSE 'unknown_code' END, 'api', c.created_at,
               CASE WHEN counted AND ordered THEN c.created_at + interval '3 days' END,
               CASE WHEN counted AND ordered THEN 'granted' ELSE 'pending' END, '',
               CASE WHEN counted AND ordered THEN 500 ELSE 0 END,
               CASE WHEN counted AND ordered THEN 250 ELSE 0 END,
               CASE WHEN counted AND ordered THEN c.created_at + interval '3 days' END
           FROM campaigns_customer c
           CROSS JOIN LATERAL (SELECT (c.id - %(low)s) %% 20 = 0 AS counted,
                                      (c.id - %(low)s) %% 40 = 0
                                      AND c.created_at + interval '3 days' < %(now)s AS ordered) f
           CROSS JOIN LATERAL (SELECT %(low)s + 1 + 10 * ((((c.id - %(low)s)::bigint * 7919) %% 1000)
                                      * ((c.id - %(low)s) / 10) / 1000) AS id) r
           WHERE (c.id - %(low)s) %% 20 = 0 OR (c.id - %(low)s) %% 200 = 3""", p))
    p["clicks"] = clicks
    _timed(f"{clicks:,} clicks", lambda: _sql(
        """INSERT INTO campaigns_referralclick (code_id, clicked_at)
           SELECT k.id, %(now)s - interval '1 minute' * ((g::bigint * 7907) %% %(year)s)
           FROM generate_series(1, %(clicks)s) AS g
           JOIN campaigns_referralcode k
             ON k.customer_id = %(low)s + 1 + 10 * ((g::bigint * 15485863) %% (%(n)s / 10))
           ORDER BY 2""", p))
    campaign = m.Campaign.objects.create(name="Invite a friend", slug="bench-invite",
                                         status="paused")
    step = m.JourneyStep.objects.create(campaign=campaign, position=0, kind="send",
                                        template=m.MessageTemplate.objects.order_by("id").first())
    p.update(campaign=campaign.pk, step=step.pk, invites=invites)
    _timed(f"{invites:,} invite enrollments", lambda: _sql(
        """INSERT INTO campaigns_enrollment (campaign_id, customer_id, entry_key, triggered_at,
               enrolled_at, state, step_position, is_holdout, exit_reason)
           SELECT %(campaign)s, %(low)s + (g::bigint * 15485863) %% %(n)s, 'inv-' || g, t, t,
               'completed', 1, false, ''
           FROM generate_series(1, %(invites)s) AS g,
                LATERAL (SELECT %(now)s - interval '1 minute'
                         * ((g::bigint * 7919) %% %(year)s) AS t) AS moment
           ORDER BY t""", p))
    _timed("their invite emails", lambda: _sql(
        """INSERT INTO campaigns_message (enrollment_id, step_id, campaign_id, customer_id,
               priority, counts_toward_cap, state, reason, first_due_at, due_at, attempts,
               deferrals, created_at, message_id, sent_at, provider_message_id, subject, locale,
               sending_domain, ground_detail, referral_invite)
           SELECT e.id, %(step)s, e.campaign_id, e.customer_id, 50, true,
               CASE WHEN e.id %% 20 = 0 THEN 'skipped' ELSE 'sent' END,
               CASE WHEN e.id %% 20 = 0 THEN 'no_consent' ELSE '' END,
               e.enrolled_at, e.enrolled_at, 1, 0, e.enrolled_at, gen_random_uuid(),
               CASE WHEN e.id %% 20 = 0 THEN NULL ELSE e.enrolled_at + interval '1 hour' END,
               '', '', 'nb', '', '', true
           FROM campaigns_enrollment e WHERE e.campaign_id = %(campaign)s ORDER BY e.id""", p))
    _timed("NPS answers", lambda: _sql(
        """INSERT INTO campaigns_surveyresponse (customer_id, message_id, kind, score, comment,
               answered_at, updated_at, handled_by)
           SELECT customer_id, id, 'nps', (id * 7) %% 11, '', sent_at + interval '1 day',
               sent_at + interval '1 day', ''
           FROM campaigns_message
           WHERE campaign_id = %(campaign)s AND state = 'sent' AND id %% 5 = 0
             AND sent_at + interval '1 day' < %(now)s""", p))
    _timed("ANALYZE", lambda: _sql("ANALYZE"))


def _median(label: str, work, runs: int) -> None:
    work()  # warm-up: templates, caches
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    load = os.getloadavg()
    print(f"{label}: median {statistics.median(times):.3f} s over {runs} runs "
          f"(min {min(times):.3f}, max {max(times):.3f}); load average {load[0]:.2f}", flush=True)


def measure(args) -> None:
    from campaigns.admin.dashboard import DEFAULT_DAYS
    from campaigns.admin.dashboard_referrals import referral_section
    from campaigns.selectors.referrals import referral_rows
    from campaigns.services.snapshots import metric_snapshots_build

    today = NOW.date()
    first = (today - dt.timedelta(days=400)).replace(day=1)
    print("referral snapshots (the nightly cost):", flush=True)
    rows = _timed("every month from scratch (referral_rows)", lambda: referral_rows(first, today))
    print(f"    {len(rows)} months", flush=True)
    night = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    _timed("a night: the open month and the one before", lambda: referral_rows(night, today))
    if not args.skip_full_build:
        m.MetricSnapshotState.objects.all().delete()
        m.MetricSnapshot.objects.all().delete()
        summary = _timed("the whole nightly build from scratch (every kind)",
                         lambda: metric_snapshots_build(now=NOW, since=first))
        print(f"    {summary}", flush=True)
    else:
        m.MetricSnapshot.objects.filter(kind=m.MetricSnapshot.Kind.REFERRAL).delete()
        m.MetricSnapshot.objects.bulk_create(rows)

    until = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=UTC)
    since = until - dt.timedelta(days=DEFAULT_DAYS)
    section = referral_section(since=since, until=until)
    print(f"    section: {len(section['months'])} months, funnel "
          f"{[step['customers'] for step in section['funnel']]}", flush=True)
    _median("word-of-mouth section (referral_section)",
            lambda: referral_section(since=since, until=until), args.runs)
    user = get_user_model().objects.filter(username="bench-admin").first() or (
        get_user_model().objects.create_superuser("bench-admin", "bench@example.com", "pw"))
    client = Client()
    client.force_login(user)

    def page():
        response = client.get("/admin/campaigns/dashboard/")
        assert response.status_code == 200, response.status_code
        assert b'id="referral-table"' in response.content

    _median("whole dashboard page from the snapshots", page, args.runs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=2_000_000)
    parser.add_argument("--invites", type=int, default=200_000)
    parser.add_argument("--clicks", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reuse", action="store_true",
                        help="Keep the data of an earlier run when it is there.")
    parser.add_argument("--skip-full-build", action="store_true",
                        help="Store the referral rows only, not every snapshot kind.")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Give a PostgreSQL scratch database in DATABASE_URL.")
    call_command("migrate", verbosity=0)
    clock.set_virtual(NOW)
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}", flush=True)
    if not (args.reuse and m.Referral.objects.exists()):
        call_command("flush", interactive=False, verbosity=0)
        demo_load(customers=0)
        print("building the data set:", flush=True)
        _timed("total", lambda: data_build(args.customers, args.orders, args.invites, args.clicks))
    print(f"customers {m.Customer.objects.count():,}, orders {m.Order.objects.count():,}, "
          f"referrals {m.Referral.objects.count():,} "
          f"(counted {m.Referral.objects.filter(status='counted').count():,}), "
          f"clicks {m.ReferralClick.objects.count():,}, "
          f"invites {m.Message.objects.filter(referral_invite=True).count():,}, "
          f"answers {m.SurveyResponse.objects.count():,}", flush=True)
    measure(args)


if __name__ == "__main__":
    main()
