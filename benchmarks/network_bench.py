"""Network-bound send benchmark: our pipeline against a fake Postmark on loopback (issue 12).

    make bench-network                                   # scratch database lcrm_bench_net
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lcrm_bench_net \
        .venv/bin/python benchmarks/network_bench.py --emails 300 --workers 1 2 --json var/net.json

benchmarks/fake_provider.py runs in its own process and answers `POST /email` as Postmark
does after 100 ms, and 429 with `Retry-After: 1` for 5 % of calls chosen at random. Our
pipeline uses anymail's real Postmark backend pointed at it (EMAIL_BACKEND and
ANYMAIL_POSTMARK_* in the workers' environment, which settings/base.py reads). For each
--workers count, --emails fresh welcomes are queued and planned (untimed), then that many
worker processes drain them together on the same database with the real clock
(`campaigns.clock.now`, not frozen): a 429'd message goes back to pending, due after its
Retry-After and the backoff, and the workers keep going until nothing is pending or
--timeout. SEND_IN_FLIGHT (--in-flight), SEND_BATCH_SIZE and SEND_RATE_PER_SECOND are passed
to the workers' settings through the environment (the rewritten send path reads them).

It prints emails/s per process and in total for the first pass (each worker's first drain:
emails handed over, accepted or 429'd, per second) and the time to completion, then checks
the fake's record of every call: duplicates (a Message-ID accepted twice) and Retry-After
violations (a call for a Message-ID sooner than its 429's Retry-After allowed) must be 0;
the shortest gap after a 429 is shown. The goal (issue 12): ≥ 500 emails/s per worker
process with SEND_IN_FLIGHT ≥ 64.
"""
import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyaltycrm.settings.base")
WORKER = "--worker" in sys.argv
BASE_ENV = {"DEBUG": "False", "SECRET_KEY": "bench-only-" + "x" * 40,
            "SUPPRESSION_HASH_KEY": "bench-only"}
os.environ.update(BASE_ENV)
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/lcrm_bench_net")
if not WORKER:
    from benchmarks.procs import database_create

    database_create(os.environ["DATABASE_URL"])

import django  # noqa: E402

django.setup()

from benchmarks import procs  # noqa: E402
from benchmarks.pgcpu import self_cpu  # noqa: E402
from benchmarks.pipeline import (  # noqa: E402
    DrainReport, bench_customer_count, database_prepare, pipeline_api, pipeline_drain,
    pipeline_next_due, pipeline_pending, pipeline_plan, welcomes_queue,
)
from django.db.models import Count, Max  # noqa: E402

from campaigns import clock  # noqa: E402
from campaigns import models as m  # noqa: E402

RETRY_AFTER = 1.0  # what the fake asks for with every 429


# --- a worker process ---------------------------------------------------------------------

def worker_main(timeout: float, claim: int) -> None:
    """Drain with the real clock until nothing is pending (or the timeout)."""
    procs.worker_wait()
    started, cpu_started = time.time(), self_cpu()
    first = pipeline_drain(clock.now, limit=claim)
    first_end, cpu_first = time.time(), self_cpu() - cpu_started
    total = DrainReport(**vars(first))
    while time.time() < started + timeout and pipeline_pending():
        due = pipeline_next_due()
        wait = 0.2 if due is None else (due - clock.now()).total_seconds()
        time.sleep(min(max(wait, 0.02), 1.0))
        report = pipeline_drain(clock.now, limit=claim)
        for name, value in vars(report).items():
            setattr(total, name, getattr(total, name) + value)
    procs.worker_done({"pid": os.getpid(), "started": started, "first_end": first_end,
                       "ended": time.time(), "cpu_first": cpu_first, "first": vars(first), "total": vars(total),
                       "timed_out": bool(pipeline_pending())})


# --- the fake provider ----------------------------------------------------------------------

def provider_start(port: int, latency: float, rate_limited: float) -> subprocess.Popen:
    provider = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("fake_provider.py")), "--port", str(port),
         "--latency", str(latency), "--rate-limited", str(rate_limited)],
        stdout=subprocess.PIPE, text=True)
    line = provider.stdout.readline()
    if "fake provider on" not in line:
        provider.kill()
        sys.exit(f"the fake provider did not start: {line!r}")
    return provider


def provider_selftest(seconds: float, clients: int) -> None:
    """The fake alone under `clients` concurrent keep-alive clients: its ceiling."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("fake_provider.py")), "--selftest",
         "--seconds", str(seconds), "--clients", str(clients)],
        capture_output=True, text=True, check=True)
    print("fake provider alone: " + done.stdout.strip().splitlines()[-1], flush=True)


def provider_call(port: int, method: str, path: str):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def calls_check(calls: list) -> dict:
    """Duplicates and Retry-After violations in the fake's record of calls."""
    by_id = defaultdict(list)
    for at, message_id, status in calls:
        by_id[message_id].append((at, status))
    duplicates = sum(1 for seen in by_id.values() if sum(s == 200 for _, s in seen) > 1)
    violations, gaps = 0, []
    for seen in by_id.values():
        seen.sort()
        for (at, status), (later, _) in zip(seen, seen[1:]):
            if status == 429:
                gaps.append(later - at)
                violations += later - at < RETRY_AFTER
    firsts = [seen[0][0] for seen in by_id.values()]
    return {"calls": len(calls), "messages": len(by_id),
            "accepted": sum(1 for seen in by_id.values() if any(s == 200 for _, s in seen)),
            "rate_limited": sum(1 for _, _, s in calls if s == 429),
            "duplicates": duplicates, "violations": violations,
            "gap_min_s": min(gaps) if gaps else None,
            "gap_median_s": statistics.median(gaps) if gaps else None,
            "first_call": min(firsts) if firsts else None,
            "last_first_attempt": max(firsts) if firsts else None,
            "last_call": max(at for at, _, _ in calls) if calls else None}


# --- the parent -------------------------------------------------------------------------

def midday_zone(now: dt.datetime) -> str:
    """A fixed-offset zone where it is around noon now: quiet hours stay out of the way."""
    offset = 12 - now.astimezone(dt.timezone.utc).hour
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def welcomes_prepare(emails: int) -> tuple[float, int]:
    """Fresh customers, their signups and the planned welcome messages (untimed).

    Returns the planning time and the id after which this drain's messages start."""
    from benchmarks.scheduler_bench import customers_grow

    have = bench_customer_count()
    customers_grow(have + emails, have)
    ids = list(m.Customer.objects.filter(external_id__startswith="b-")
               .order_by("-id").values_list("id", flat=True)[:emails])
    now = clock.now()
    m.Customer.objects.filter(id__in=ids).update(time_zone=midday_zone(now))
    welcomes_queue(customer_ids=ids, now=now - dt.timedelta(seconds=1))
    after = m.Message.objects.aggregate(last=Max("id"))["last"] or 0
    started = time.perf_counter()
    pipeline_plan(clock.now)
    made = m.Message.objects.filter(id__gt=after).count()
    assert made == emails, f"planned {made} of {emails} welcomes"
    return time.perf_counter() - started, after


def handed_over(report: dict) -> int:
    """Messages given to the provider in a drain, whatever it answered."""
    return report["sent"] + report["deferred"] + report["failed"] + report["unknown"]


def drain_measure(*, workers: int, emails: int, port: int, args) -> dict:
    provider_call(port, "POST", "/reset")
    plan_s, after = welcomes_prepare(emails)
    env = {**BASE_ENV, "DATABASE_URL": os.environ["DATABASE_URL"],
           "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
           "ANYMAIL_POSTMARK_SERVER_TOKEN": "fake",
           "ANYMAIL_POSTMARK_API_URL": f"http://127.0.0.1:{port}/",
           "SEND_IN_FLIGHT": str(args.in_flight), "SEND_BATCH_SIZE": str(args.batch)}
    if args.rate:
        env["SEND_RATE_PER_SECOND"] = str(args.rate)
    load_before = os.getloadavg()
    results, cpu = procs.workers_run(
        [sys.executable, __file__, "--worker", "--timeout", str(args.timeout),
         "--claim", str(args.claim)], count=workers, env=env)
    load_after = os.getloadavg()
    check = calls_check(provider_call(port, "GET", "/calls"))
    started = min(r["started"] for r in results)
    per_process = [handed_over(r["first"]) / (r["first_end"] - r["started"]) for r in results]
    states = dict(m.Message.objects.filter(id__gt=after).order_by()
                  .values_list("state").annotate(n=Count("id")))
    return {
        "workers": workers, "emails": emails, "plan_s": plan_s,
        "first_pass_per_process": per_process,
        "first_pass_total": sum(handed_over(r["first"]) for r in results)
        / (max(r["first_end"] for r in results) - started),
        "first_pass_provider": (check["messages"] / (check["last_first_attempt"] - started)
                                if check["messages"] else 0.0),
        "completion_s": max(r["ended"] for r in results) - started,
        "timed_out": any(r["timed_out"] for r in results),
        "cpu_s_per_email": cpu / emails,
        "cpu_first_s_per_email": sum(r["cpu_first"] for r in results)
        / max(1, sum(handed_over(r["first"]) for r in results)), "load_before": load_before, "load_after": load_after,
        "workers_report": results, "provider": check, "states": states,
    }


def result_print(r: dict) -> None:
    p = r["provider"]
    per = ", ".join(f"{rate:,.0f}" for rate in r["first_pass_per_process"])
    print(f"{r['workers']} worker process(es), {r['emails']:,} welcomes (planned in {r['plan_s']:.1f} s, "
          f"untimed): first pass {per} emails/s per process, {r['first_pass_total']:,.0f}/s in total "
          f"(provider's view: every message tried once at {r['first_pass_provider']:,.0f}/s); "
          f"all done in {r['completion_s']:.1f} s{' (TIMED OUT)' if r['timed_out'] else ''}")
    gap = f"{p['gap_min_s']:.2f} s" if p["gap_min_s"] is not None else "n/a"
    print(f"  provider: {p['calls']:,} calls, {p['accepted']:,} accepted, {p['rate_limited']} answered 429; "
          f"duplicates {p['duplicates']}, Retry-After violations {p['violations']} "
          f"(shortest gap after a 429: {gap}); message states {r['states']}; "
          f"worker CPU per email {r['cpu_first_s_per_email'] * 1000:.2f} ms in the first pass, "
          f"{r['cpu_s_per_email'] * 1000:.2f} ms over their whole life (start-up, waiting for "
          f"retries); "
          f"load {r['load_before'][0]:.2f} → {r['load_after'][0]:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=300)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--in-flight", type=int, default=64, help="SEND_IN_FLIGHT for the workers")
    parser.add_argument("--batch", type=int, default=100, help="SEND_BATCH_SIZE for the workers")
    parser.add_argument("--rate", type=float, help="SEND_RATE_PER_SECOND for the workers")
    parser.add_argument("--claim", type=int, default=1000000,
                        help="due messages one send call may claim (as a send task: all that is due)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per drain")
    parser.add_argument("--port", type=int, default=18025)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--rate-limited", type=float, default=0.05)
    parser.add_argument("--selftest-seconds", type=float, default=3.0,
                        help="measure the fake alone first (0: skip)")
    parser.add_argument("--selftest-clients", type=int, default=300)
    parser.add_argument("--json")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args.timeout, args.claim)
        return
    if args.selftest_seconds:
        provider_selftest(args.selftest_seconds, args.selftest_clients)
    database_prepare(now=clock.now())
    provider = provider_start(args.port, args.latency, args.rate_limited)
    try:
        print(f"send path: {pipeline_api()}; fake Postmark at 127.0.0.1:{args.port} "
              f"({args.latency * 1000:.0f} ms, {args.rate_limited:.0%} answered 429); "
              f"SEND_IN_FLIGHT={args.in_flight}")
        results = [drain_measure(workers=n, emails=args.emails, port=args.port, args=args)
                   for n in args.workers]
    finally:
        provider.terminate()
        provider.wait()
    for result in results:
        result_print(result)
    bad = [r for r in results if r["provider"]["duplicates"] or r["provider"]["violations"]]
    if args.json:
        Path(args.json).write_text(json.dumps({"send_path": pipeline_api(), "in_flight": args.in_flight,
                                               "results": results}, indent=2, default=str))
    if bad:
        sys.exit("duplicates or Retry-After violations: see above")


if __name__ == "__main__":
    main()
