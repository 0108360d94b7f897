"""The ingestion API under gunicorn on PostgreSQL, with a bounded load generator (issue 13).

    make bench-api                                      # scratch database lcrm_ingest_bench
    .venv/bin/python benchmarks/api_bench.py --runs 3 --tree /tmp/main-copy --json var/a.json

Starts gunicorn (this repository's gunicorn.conf.py, --workers processes, default 2) on a
free loopback port, serving the code in --tree (default: this repository; point it at a
copy of another commit to measure "before"), on the database in DATABASE_URL, migrated
and emptied first. Then, --runs times each, with fresh ids every run:

- batch-1000: one POST of 1,000 signups of new customers (with marketing consent), and
  one of 1,000 purchases of one customer (1,000 orders): seconds until the 201.
- sustained: --clients threads post batches of 100 (50 signups of new customers, then
  their 50 purchases) for --seconds; events stored per second.
- single: --single-clients threads (default 1: the latency of a request, not of a queue
  or of CPUs shared with the load generator) post one purchase at a time (--singles in
  all) for known customers; p50 and p99 of the request latency, in milliseconds.

Every answer is checked (status and `accepted`): a failed request stops the benchmark.
The load average is shown before and after. Goals (issue 13): batch of 1,000 < 1 s;
≥ 2,000 events/s in batches of 100 with 2 workers; single-event p99 < 50 ms.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.procs import database_create  # noqa: E402

ENV = {"DEBUG": "False", "SECRET_KEY": "bench-only-" + "x" * 40,
       "SUPPRESSION_HASH_KEY": "bench-only", "ALLOWED_HOSTS": "127.0.0.1",
       "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/11"),
       "GUNICORN_ACCESS_LOG": "", "GUNICORN_LOG_LEVEL": "warning"}
AT = "2026-03-02T09:30:00Z"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(tree: Path, env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=tree, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def server_start(tree: Path, env: dict, *, workers: int, timeout: int):
    port = free_port()
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers),
           "GUNICORN_TIMEOUT": str(timeout)}
    # The server's own output (its log lines) goes to a file, shown if it fails.
    log = tempfile.NamedTemporaryFile("w+", prefix="api-bench-gunicorn-", suffix=".log",
                                      delete=False)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
         "loyaltycrm.wsgi"], cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT)
    server.log_path = log.name
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/healthz", timeout=10).ok:
                return server, url
        except requests.RequestException:
            pass
        time.sleep(0.2)
    server.terminate()
    server.wait(timeout=60)
    sys.exit("gunicorn did not start")


class Client:
    def __init__(self, url: str, key: str):
        self.url = f"{url}/api/v1/events"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def post(self, body, *, accepted: int) -> float:
        started = time.perf_counter()
        response = self.session.post(self.url, json=body, timeout=600)
        elapsed = time.perf_counter() - started
        if response.status_code != 201 or response.json()["accepted"] != accepted:
            raise SystemExit(f"unexpected answer {response.status_code}: {response.text[:500]}")
        return elapsed


def signup(tag: str, n: int) -> dict:
    return {"event_id": f"{tag}-s-{n}", "type": "signup", "occurred_at": AT,
            "customer": {"external_id": f"{tag}-c-{n}", "email": f"c{n}.{tag}@example.se",
                         "first_name": "Astrid", "locale": "sv",
                         "time_zone": "Europe/Stockholm", "consent": {"marketing": True}}}


def purchase(tag: str, n: int, customer: str) -> dict:
    return {"event_id": f"{tag}-p-{n}", "type": "purchase", "occurred_at": AT,
            "customer": {"external_id": customer, "email": f"{customer}@example.se"},
            "order": {"external_id": f"{tag}-o-{n}", "amount": "499.00", "currency": "SEK"}}


def batch_1000(client: Client) -> dict:
    tag = uuid.uuid4().hex[:8]
    signups = client.post([signup(tag, n) for n in range(1000)], accepted=1000)
    purchases = client.post([purchase(tag, n, f"{tag}-one") for n in range(1000)],
                            accepted=1000)
    return {"signups_s": signups, "purchases_s": purchases}


def in_threads(count: int, work) -> float:
    """Run work(i) in `count` threads released together; the wall time."""
    barrier = threading.Barrier(count + 1)
    errors = []

    def run(i):
        barrier.wait()
        try:
            work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"a client failed: {errors[0]}")
    return time.perf_counter() - started


def sustained(url: str, key: str, *, clients: int, seconds: float) -> dict:
    tag = uuid.uuid4().hex[:8]
    counts, latencies = [0] * clients, []

    def work(i):
        client, n = Client(url, key), 0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            base = f"{tag}-{i}-{n}"
            body = [signup(base, k) for k in range(50)]
            body += [purchase(base, k, f"{base}-c-{k}") for k in range(50)]
            latencies.append(client.post(body, accepted=100))
            counts[i] += 100
            n += 1

    elapsed = in_threads(clients, work)
    return {"events_per_s": sum(counts) / elapsed, "batches": len(latencies),
            "batch_p50_ms": 1000 * statistics.median(latencies),
            "batch_max_ms": 1000 * max(latencies)}


def singles(url: str, key: str, *, clients: int, count: int) -> dict:
    tag = uuid.uuid4().hex[:8]
    setup = Client(url, key)
    setup.post([signup(tag, n) for n in range(clients)], accepted=clients)
    latencies = []

    def work(i):
        client = Client(url, key)
        for n in range(count // clients):
            latencies.append(client.post(
                purchase(f"{tag}-{i}", n, f"{tag}-c-{i}"), accepted=1))

    elapsed = in_threads(clients, work)
    quantiles = statistics.quantiles(latencies, n=100)
    return {"p50_ms": 1000 * statistics.median(latencies), "p99_ms": 1000 * quantiles[98],
            "events_per_s": len(latencies) / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="code to serve")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--singles", type=int, default=400)
    parser.add_argument("--single-clients", type=int, default=1)
    parser.add_argument("--timeout", type=int, default=30,
                        help="gunicorn's worker timeout (raise it to time a slow 'before')")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["batch-1000", "sustained", "single"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    database = os.environ.get(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/lcrm_ingest_bench")
    database_create(database)
    env = {**os.environ, **ENV, "DATABASE_URL": database}
    manage(args.tree, env, "migrate", "--noinput", "-v0")
    manage(args.tree, env, "flush", "--noinput", "-v0")
    key = manage(args.tree, env, "create_api_key", "bench").strip()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=args.tree,
                            capture_output=True, text=True).stdout.strip() or str(args.tree)
    load_before = os.getloadavg()
    server, url = server_start(args.tree, env, workers=args.workers, timeout=args.timeout)
    results = {"tree": str(args.tree), "commit": commit, "workers": args.workers,
               "clients": args.clients, "runs": []}
    try:
        for run in range(args.runs):
            row = {}
            if "batch-1000" not in args.skip:
                row["batch_1000"] = batch_1000(Client(url, key))
            if "sustained" not in args.skip:
                row["sustained"] = sustained(url, key, clients=args.clients,
                                             seconds=args.seconds)
            if "single" not in args.skip:
                row["single"] = singles(url, key, clients=args.single_clients,
                                        count=args.singles)
            print(f"run {run + 1}: {json.dumps(row, default=lambda v: round(v, 3))}",
                  flush=True)
            results["runs"].append(row)
    except BaseException:
        print(f"gunicorn's log: {server.log_path}", file=sys.stderr)
        raise
    finally:
        server.terminate()
        server.wait(timeout=60)
    results["load_average"] = {"before": load_before, "after": os.getloadavg()}
    summary = {}
    for part, fields in (("batch_1000", ("signups_s", "purchases_s")),
                         ("sustained", ("events_per_s", "batch_p50_ms")),
                         ("single", ("p50_ms", "p99_ms", "events_per_s"))):
        for field in fields:
            values = [r[part][field] for r in results["runs"] if part in r]
            if values:
                summary[f"{part}.{field}"] = statistics.median(values)
    results["median"] = summary
    print(f"code {commit}, {args.workers} gunicorn workers, {args.clients} clients, "
          f"{args.runs} runs; load average before {load_before[0]:.2f}, "
          f"after {results['load_average']['after'][0]:.2f}")
    for name, value in summary.items():
        print(f"  median {name:28} {value:10.3f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
