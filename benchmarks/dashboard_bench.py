"""Dashboard benchmark: the impact dashboard on 1,000,000 customers and 10,000,000 messages.

    make bench-dashboard                          # PostgreSQL database lcrm_bench_dash (created)
    .venv/bin/python benchmarks/dashboard_bench.py --customers 1000000 --messages 10000000 --runs 5
    .venv/bin/python benchmarks/dashboard_bench.py --reuse     # keep the data of an earlier run

It needs a scratch database in DATABASE_URL (it migrates and, unless --reuse finds the
data already there, flushes it). Each table is filled by INSERT … SELECT generate_series
over the year before a fixed "now" (2026-03-02 10:00 UTC, so the open day has data too):
customers, placed orders (4 % refunded), enrollments in six campaigns of two send steps
(10 % holdout), their messages (90 % sent, 5 % skipped, 5 % expired; opens, clicks, one
step with an A/B test), state-log lines for the held-back ones, and NPS, CSAT and CES
answers. Then it prints:

* the nightly cost: building every snapshot from scratch (a fresh install's backfill), and
  the nightly run (the trailing window re-snapshotted);
* the whole dashboard page (the admin view through Django's test client as a superuser,
  default period: the last 365 days), median of --runs, from the snapshots;
* for comparison the same page counted live, --live-runs times (0 to skip it).
"""
import argparse
import datetime as dt
import os
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyaltycrm.settings.base")
# A local run, as before DEBUG became opt-in (the key is made once in var/).
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
YEAR_MINUTES = 366 * 1440
CAMPAIGNS = 6
CHUNK = 1_000_000


def _sql(statement: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def _timed(label: str, work):
    started = time.perf_counter()
    result = work()
    print(f"  {label}: {time.perf_counter() - started:,.1f} s", flush=True)
    return result


def campaigns_make() -> list[int]:
    """Six campaigns of two send steps each; the first step of the first has variants A and B."""
    template = m.MessageTemplate.objects.order_by("id").first()
    ids = []
    for i in range(CAMPAIGNS):
        campaign = m.Campaign.objects.create(name=f"Bench {i + 1}", slug=f"bench-{i + 1}",
                                             status="paused", holdout_percent=10)
        for position in (0, 1):
            step = m.JourneyStep.objects.create(campaign=campaign, position=position, kind="send",
                                                template=template)
            if i == 0 and position == 0:
                for name in ("A", "B"):
                    m.StepVariant.objects.create(step=step, name=name, template=template)
        ids.append(campaign.pk)
    return ids


def data_build(customers: int, messages: int, orders: int) -> None:
    campaign_ids = campaigns_make()
    first, last = min(campaign_ids), max(campaign_ids)
    variant_a = m.StepVariant.objects.get(name="A", step__campaign_id=first).pk
    _sql("SET synchronous_commit TO off")
    _timed(f"{customers:,} customers", lambda: _sql(
        """INSERT INTO campaigns_customer (created_at, updated_at, external_id, email, first_name,
               last_name, locale, time_zone, country, signed_up_at, first_order_at, last_order_at,
               order_count, total_spent, points_balance, tier, tier_points, marketing_consent,
               attributes, lifecycle_stage)
           SELECT %(now)s, %(now)s, 'b-' || g, 'b' || g || '@example.com', 'Kari', 'Nordmann',
               'nb', 'Europe/Oslo', 'NO',
               CASE WHEN g %% 10 = 0 THEN NULL
                    ELSE %(now)s - interval '1 minute' * ((g::bigint * 3571) %% (730 * 1440)) END,
               %(now)s - interval '1 minute' * ((g::bigint * 1553) %% (700 * 1440)), NULL,
               1, 100, 0, '', 0, true, '{}', ''
           FROM generate_series(1, %(n)s) AS g""", {"now": NOW, "n": customers}))
    low = m.Customer.objects.order_by("id").values_list("id", flat=True)[0]
    _timed(f"{orders:,} orders", lambda: _sql(
        """INSERT INTO campaigns_order (created_at, updated_at, customer_id, external_id, amount,
               currency, placed_at, status)
           SELECT %(now)s, %(now)s, %(low)s + (g::bigint * 104729) %% %(n)s, 'bo-' || g,
               50 + g %% 400, 'SEK', %(now)s - interval '1 minute' * ((g::bigint * 7907) %% %(year)s),
               CASE WHEN g %% 25 = 0 THEN 'refunded' ELSE 'placed' END
           FROM generate_series(1, %(o)s) AS g ORDER BY 7""",
        {"now": NOW, "low": low, "n": customers, "o": orders, "year": YEAR_MINUTES}))
    # Each non-holdout enrollment gets two messages: 10 % holdout -> messages / 1.8 enrollments.
    # Rows go in in time order, month by month, as a live system writes them (ids grow with
    # time, so a day's rows sit together on disk).
    enrollments = -(-messages * 10 // 18)
    for month in range(12, -1, -1):
        lo = NOW - dt.timedelta(days=30.5 * (month + 1)) if month < 12 else NOW - dt.timedelta(days=400)
        hi = NOW - dt.timedelta(days=30.5 * month) if month else NOW + dt.timedelta(minutes=1)
        _timed(f"enrollments triggered {lo:%Y-%m-%d} – {hi:%Y-%m-%d}", lambda: _sql(
            """INSERT INTO campaigns_enrollment (campaign_id, customer_id, entry_key, triggered_at,
                   enrolled_at, state, step_position, is_holdout, exit_reason)
               SELECT %(first)s + g %% %(campaigns)s, %(low)s + (g::bigint * 15485863) %% %(n)s,
                   'bench-' || g, t, t, 'completed', 2, g %% 10 = 0, ''
               FROM generate_series(1, %(e)s) AS g,
                    LATERAL (SELECT %(now)s - interval '1 minute'
                             * ((g::bigint * 7919) %% %(year)s) AS t) AS moment
               WHERE t >= %(lo)s AND t < %(hi)s ORDER BY t""",
            {"first": first, "campaigns": CAMPAIGNS, "low": low, "n": customers, "e": enrollments,
             "now": NOW, "year": YEAR_MINUTES, "lo": lo, "hi": hi}))
    bounds = m.Enrollment.objects.filter(campaign_id__gte=first, campaign_id__lte=last)
    low_e = bounds.order_by("id").values_list("id", flat=True)[0]
    high_e = bounds.order_by("-id").values_list("id", flat=True)[0]
    for start in range(low_e, high_e + 1, CHUNK // 2):
        stop = min(start + CHUNK // 2 - 1, high_e)
        _timed(f"messages of enrollments {start:,}-{stop:,}", lambda: _sql(
            """INSERT INTO campaigns_message (enrollment_id, step_id, campaign_id, customer_id,
                   variant_id, priority, counts_toward_cap, state, reason, first_due_at, due_at,
                   attempts, deferrals, created_at, message_id, sent_at, provider_message_id,
                   subject, locale, sending_domain, ground_detail, delivered_at, opened_at,
                   clicked_at)
               SELECT e.id, s.id, e.campaign_id, e.customer_id,
                   CASE WHEN e.campaign_id = %(first)s AND s.position = 0
                        THEN %(variant_a)s + (e.id / 6) %% 2 END,
                   50, true, x.state, x.reason, x.due, x.due, 1, 0, e.enrolled_at,
                   gen_random_uuid(), CASE WHEN x.state = 'sent' THEN x.due END, '', '', 'nb', '', '',
                   CASE WHEN x.state = 'sent' AND h.h >= 12 THEN x.due + interval '1 minute' END,
                   CASE WHEN x.state = 'sent' AND h.o < 35 AND x.due + interval '2 hours' < %(now)s
                        THEN x.due + interval '2 hours' END,
                   CASE WHEN x.state = 'sent' AND h.o < 6 AND x.due + interval '2 hours' < %(now)s
                        THEN x.due + interval '2 hours' END
               FROM campaigns_enrollment e
               JOIN campaigns_journeystep s ON s.campaign_id = e.campaign_id AND s.kind = 'send'
               CROSS JOIN LATERAL (SELECT (e.id * 31 + s.position) %% 100 AS h,
                                          (e.id * 17 + s.position) %% 100 AS o) AS h
               CROSS JOIN LATERAL (SELECT e.enrolled_at + interval '1 hour'
                                          + interval '2 days' * s.position AS due) AS d
               CROSS JOIN LATERAL (SELECT d.due,
                   CASE WHEN d.due >= %(now)s THEN 'pending' WHEN h.h < 5 THEN 'skipped'
                        WHEN h.h < 10 THEN 'expired' ELSE 'sent' END AS state,
                   CASE WHEN d.due >= %(now)s THEN '' WHEN h.h < 5 THEN 'no_consent'
                        WHEN h.h < 10 THEN 'frequency_cap' ELSE '' END AS reason) AS x
               WHERE e.id BETWEEN %(start)s AND %(stop)s AND NOT e.is_holdout""",
            {"first": first, "variant_a": variant_a, "now": NOW, "start": start, "stop": stop}))
    _timed("state log of held-back messages", lambda: _sql(
        """INSERT INTO campaigns_messagelog (message_id, at, state, reason, detail)
           SELECT * FROM (
               SELECT id, due_at, state, reason, '' FROM campaigns_message
               WHERE state IN ('skipped', 'expired')
               UNION ALL
               SELECT id, due_at - interval '1 hour', 'deferred', 'quiet_hours', ''
               FROM campaigns_message WHERE state = 'expired' AND id %% 2 = 0) AS lines
           ORDER BY 1"""))
    _timed("survey answers", lambda: _sql(
        """INSERT INTO campaigns_surveyresponse (customer_id, message_id, kind, score, comment,
               answered_at, updated_at, handled_by)
           SELECT customer_id, id, k.kind,
               CASE k.kind WHEN 'nps' THEN (id * 7) %% 11 WHEN 'csat' THEN 1 + (id * 7) %% 5
                    ELSE 1 + (id * 7) %% 7 END,
               '', sent_at + interval '1 day', sent_at + interval '1 day', ''
           FROM campaigns_message
           CROSS JOIN LATERAL (SELECT (ARRAY['nps', 'csat', 'ces'])[1 + id %% 3] AS kind) AS k
           WHERE state = 'sent' AND id %% 17 = 0 AND sent_at + interval '1 day' < %(now)s
           ORDER BY sent_at""",
        {"now": NOW}))
    _timed("ANALYZE", lambda: _sql("ANALYZE"))


def render(client: Client) -> tuple[float, str]:
    """Seconds to render the page, and its chart data (every table's rows, as JSON)."""
    started = time.perf_counter()
    response = client.get("/admin/campaigns/dashboard/")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.status_code
    page = response.content.decode()
    return elapsed, re.search(r'<script id="dashboard-data" type="application/json">(.*?)</script>',
                              page, re.S).group(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--orders", type=int, default=3_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--live-runs", type=int, default=1)
    parser.add_argument("--reuse", action="store_true",
                        help="Keep the data of an earlier run when it is there.")
    parser.add_argument("--data-only", action="store_true", help="Build the data and stop.")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Give a PostgreSQL scratch database in DATABASE_URL.")
    call_command("migrate", verbosity=0)
    clock.set_virtual(NOW)
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}", flush=True)
    if not (args.reuse and m.Message.objects.exists()):
        call_command("flush", interactive=False, verbosity=0)
        demo_load(customers=0)
        print("building the data set:", flush=True)
        _timed("total", lambda: data_build(args.customers, args.messages, args.orders))
    print(f"customers {m.Customer.objects.count():,}, messages {m.Message.objects.count():,}, "
          f"orders {m.Order.objects.count():,}, enrollments {m.Enrollment.objects.count():,}, "
          f"logs {m.MessageLog.objects.count():,}, answers {m.SurveyResponse.objects.count():,}",
          flush=True)
    if args.data_only:
        return
    snapshots_and_page(args)


def snapshots_and_page(args) -> None:
    from campaigns.services.snapshots import metric_snapshots_build

    print("snapshots (the nightly cost):", flush=True)
    m.MetricSnapshotState.objects.all().delete()
    m.MetricSnapshot.objects.all().delete()
    full = _timed("backfill: every day from the first with data", lambda: metric_snapshots_build(
        now=NOW))
    print(f"    {full}", flush=True)
    nightly = _timed("a night: the trailing window again", lambda: metric_snapshots_build(
        now=NOW))
    print(f"    {nightly}", flush=True)

    user = get_user_model().objects.filter(username="bench-admin").first() or (
        get_user_model().objects.create_superuser("bench-admin", "bench@example.com", "pw"))
    client = Client()
    client.force_login(user)
    _, from_snapshots = render(client)  # warm-up: templates, caches
    times = [render(client)[0] for _ in range(args.runs)]
    load = os.getloadavg()
    print(f"dashboard page from snapshots: median {statistics.median(times):.3f} s over "
          f"{args.runs} runs (min {min(times):.3f}, max {max(times):.3f}); "
          f"load average {load[0]:.2f}", flush=True)
    if args.live_runs:
        from campaigns.selectors import dashboard

        dashboard.SNAPSHOTS_ENABLED = False
        try:
            runs = [render(client) for _ in range(args.live_runs)]
        finally:
            dashboard.SNAPSHOTS_ENABLED = True
        print(f"dashboard page counted live: median {statistics.median(t for t, _ in runs):.1f} s "
              f"over {args.live_runs} runs; load average {os.getloadavg()[0]:.2f}", flush=True)
        same = all(data == from_snapshots for _, data in runs)
        print(f"the live page shows {'the same' if same else 'DIFFERENT'} numbers", flush=True)


if __name__ == "__main__":
    main()
