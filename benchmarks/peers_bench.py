"""Our send pipeline against django-post-office 3.12.0, side by side (issue 12).

    make bench-peers                         # makes .venv-peers, 6 interleaved pairs
    .venv/bin/python benchmarks/peers_bench.py --pairs 2 --emails 2000 \
        --peer-python .venv-peers/bin/python --json var/peers.json

Each side drains --emails welcome emails in its own process on its own scratch database
(lcrm_bench_peer_ours, lcrm_bench_peer_po on the PostgreSQL in BENCH_PEERS_DATABASE_URL,
created if missing), one after the other, in interleaved pairs (ours, peer, ours, peer …)
so that both meet the same machine load:

* ours (in .venv): signup events for fresh customers are stored first, untimed; then the
  timed pipeline — plan, advance, claim, consent/cap/quiet-hours gate, render (sandboxed
  Jinja2), anymail, record — by `benchmarks.pipeline.pipeline_drain`;
* post-office (in .venv-peers, where it is installed for this benchmark only): the timed
  `mail.send_many()` (renders and bulk-inserts) and `mail.send_queued_mail_until_done()`.

Same content (the demo welcome, Norwegian, with our legal footer; post-office gets a
Django-template version with the same variables, and the rendered sizes are printed for
both), same backend: anymail's test backend, whose outbox is emptied after every batch on
both sides because it finds each message with `list.index`, O(n) in the outbox's length.

It prints per pair and as medians: emails/s of each side and the ratio; CPU seconds per
email of each side's process (getrusage(RUSAGE_CHILDREN) deltas, less what the child
spent before its timed phase) and of the PostgreSQL backends serving it (utime + stime from
/proc, benchmarks/pgcpu.py); the load average before and after each run. --json writes it.
"""
import argparse
import datetime as dt
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.procs import database_create  # noqa: E402

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/"
CHILD_ENV = {
    # Production-like: no SQL kept per query (post-office's side runs with DEBUG off too).
    "DEBUG": "False", "SECRET_KEY": "bench-only-" + "x" * 40,
    "SUPPRESSION_HASH_KEY": "bench-only", "EMAIL_BACKEND": "anymail.backends.test.EmailBackend",
}


# --- our side (children in .venv) ---------------------------------------------------------

def _django_ours():
    os.environ.update(CHILD_ENV)
    sys.path.insert(0, str(ROOT))
    from benchmarks import scheduler_bench  # noqa: F401  (django.setup, test backend)


def ours_setup(template_out: str) -> None:
    """Prepare our scratch database and write the Django-template welcome for the peer."""
    _django_ours()
    from django.conf import settings

    from benchmarks.pipeline import database_prepare
    from benchmarks.scheduler_bench import NOW
    from campaigns import templating
    from campaigns.tokens import unsubscribe_token

    database_prepare(now=NOW)
    content = ROOT / "campaigns" / "content" / "welcome"

    def django_syntax(jinja: str) -> str:
        # The welcome uses `{{ x or "y" }}` and `{% if %}`; Django spells the first `default`.
        return re.sub(r'\{\{\s*([\w.]+)\s+or\s+"([^"]*)"\s*\}\}', r'{{ \1|default:"\2" }}', jinja)

    mark = "UNSUBSCRIBE-URL-MARK"
    footer = templating.footer_render(locale="nb", context={
        "company": {"name": settings.COMPANY_NAME, "address": settings.COMPANY_ADDRESS},
        "unsubscribe_url": mark}, first=True)
    footer = {part: text.replace(mark, "{{ unsubscribe_url }}") for part, text in footer.items()}
    rendered = templating.with_footer(rendered={
        "subject": django_syntax((content / "nb.subject.txt").read_text().strip()),
        "text": django_syntax((content / "nb.txt").read_text()),
        "html": django_syntax((content / "nb.html").read_text()),
    }, footer=footer)
    token = unsubscribe_token(customer_id=123456)
    Path(template_out).write_text(json.dumps({**rendered, "context": {
        "customer": {"first_name": "Kari", "last_name": "Nordmann"},
        "site_url": settings.SITE_URL,
        "unsubscribe_url": f"{settings.SITE_URL}/u/{token}?lang=nb"}}))


def ours_run(run: int, emails: int, claim: int) -> dict:
    """One timed drain of `emails` fresh welcomes (the signups are stored untimed first)."""
    _django_ours()
    from django.core import mail

    from benchmarks.pgcpu import BackendCpu, self_cpu
    from benchmarks.pipeline import (
        bench_customer_count, database_analyze, database_row_writes, pipeline_api, pipeline_drain,
        welcomes_queue,
    )
    from benchmarks.scheduler_bench import NOW, customers_grow
    from campaigns import models as m

    tracker = BackendCpu()
    now = NOW + dt.timedelta(days=2 * (run + 1))  # past the daily cap of earlier runs
    have = bench_customer_count()
    customers_grow(have + emails, have)
    ids = list(m.Customer.objects.filter(external_id__startswith="b-")
               .order_by("-id").values_list("id", flat=True)[:emails])
    welcomes_queue(customer_ids=ids, now=now)
    if os.environ.get("BENCH_ANALYZE", "1") == "1":
        # Statistics as autovacuum keeps them: every run adds 10,000 customers and their
        # history, and plans made on stale counts cost more in the database each pair.
        database_analyze()
    sent, sizes = [0], {}

    def outbox_empty(report):
        # anymail's test backend finds each message with outbox.index: O(n) in its length.
        if mail.outbox and not sizes:
            sizes.update(_sizes(mail.outbox[0]))
        sent[0] += len(mail.outbox)
        mail.outbox = []

    mail.outbox = []
    writes = database_row_writes()
    cpu_before = self_cpu()
    tracker.start()
    started = time.perf_counter()
    report = pipeline_drain(now, limit=claim, on_batch=outbox_empty)
    elapsed = time.perf_counter() - started
    pg_cpu = tracker.stop()
    cpu_after = self_cpu()
    writes = database_row_writes() - writes
    assert sent[0] == emails == report.sent, f"sent {sent[0]} ({report}) of {emails}"
    return {"side": "ours", "send_path": pipeline_api(), "emails": emails, "elapsed": elapsed, "cpu_before": cpu_before,
            "cpu_phase_self": cpu_after - cpu_before, "pg_cpu": pg_cpu,
            "pg_backends": len(tracker.pids), "sizes": sizes,
            "row_writes_per_email": writes / emails}


def _sizes(message) -> dict:
    html = next((body for body, kind in getattr(message, "alternatives", []) if kind == "text/html"), "")
    return {"subject": len(message.subject), "text": len(message.body), "html": len(html)}


# --- the orchestrator -------------------------------------------------------------------

def child_run(command: list[str], database_url: str, *, setup: bool = False) -> dict:
    """Run one child; returns its JSON line plus its CPU (RUSAGE_CHILDREN delta) and load."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          env={"SEND_IN_FLIGHT": "1", **os.environ, "DATABASE_URL": database_url})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    if setup:
        return {}
    process_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    measured = {"process_cpu": process_cpu, "load_before": load_before,
                "load_after": os.getloadavg()}
    if "--json" in command:
        # The scheduler benchmark's contract: its own figures, data set-up included in
        # the process, so the process CPU is not comparable and is not used.
        contract = json.loads(Path(command[command.index("--json") + 1]).read_text())
        emails = int(command[command.index("--due") + 1])
        return {**measured, "side": "ours", "send_path": "scheduler_bench --throughput-only",
                "emails": emails, "elapsed": emails / contract["emails_per_s"],
                "cpu": contract["cpu_s_per_email"] * emails, "pg_cpu": None,
                "pg_backends": None, "sizes": {},
                "row_writes_per_email": contract.get("row_writes_per_email")}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, **measured, "cpu": process_cpu - result["cpu_before"]}


def ours_command(args, run: int) -> list[str]:
    """Our side's child: our own drain (default), or the scheduler benchmark's contract."""
    due = ["--due", str(args.emails), "--runs", "1",
           "--json", str(ROOT / "var" / "peers_ours_contract.json")]
    if args.ours_via == "scheduler-bench":
        script = ROOT / "benchmarks" / "scheduler_bench.py"
        if "--throughput-only" in script.read_text():
            return [sys.executable, str(script), "--throughput-only", *due]
        # Until scheduler_bench has it: a stand-in with the same contract.
        return [sys.executable, __file__, "--child", "contract", "--run", str(run),
                "--claim", str(args.claim), *due]
    return [sys.executable, __file__, "--child", "run", "--run", str(run),
            "--emails", str(args.emails), "--claim", str(args.claim)]


def contract_stub(run: int, due: int, claim: int, path: str) -> None:
    """scheduler_bench.py --throughput-only's contract, measured with our own drain."""
    result = ours_run(run, due, claim)
    Path(path).write_text(json.dumps({
        "emails_per_s": due / result["elapsed"],
        "cpu_s_per_email": result["cpu_phase_self"] / due,
        "row_writes_per_email": result["row_writes_per_email"],
        "load": list(os.getloadavg())}))


def pair_summary(ours: dict, peer: dict) -> dict:
    def side(r):
        pg = r["pg_cpu"] / r["emails"] if r["pg_cpu"] is not None else None
        return {"emails_per_s": r["emails"] / r["elapsed"], "elapsed_s": r["elapsed"],
                "cpu_s_per_email": r["cpu"] / r["emails"], "pg_cpu_s_per_email": pg,
                "row_writes_per_email": r.get("row_writes_per_email"),
                "pg_backends": r["pg_backends"],
                "load_before": r["load_before"], "load_after": r["load_after"],
                "sizes": r["sizes"], **({"queue_s": r["queue_s"]} if "queue_s" in r else {})}
    return {"ours": side(ours), "peer": side(peer),
            "ratio": (ours["emails"] / ours["elapsed"]) / (peer["emails"] / peer["elapsed"])}


def table_print(pairs: list[dict], medians: dict) -> None:
    print(f"{'pair':>6} | {'ours/s':>7} {'peer/s':>7} {'ours/peer':>9} | "
          f"{'ours ms CPU (py+pg)':>20} | {'peer ms CPU (py+pg)':>20} | load before → after")

    def cpu(s):
        if s["pg_cpu_s_per_email"] is None:
            return f"{s['cpu_s_per_email'] * 1000:.3f}+?"
        return (f"{s['cpu_s_per_email'] * 1000:.3f}+{s['pg_cpu_s_per_email'] * 1000:.3f}"
                f"={(s['cpu_s_per_email'] + s['pg_cpu_s_per_email']) * 1000:.3f}")

    for index, p in enumerate(pairs, 1):
        o, q = p["ours"], p["peer"]
        print(f"{index:>6} | {o['emails_per_s']:7,.0f} {q['emails_per_s']:7,.0f} {p['ratio']:9.2f} | "
              f"{cpu(o):>20} | {cpu(q):>20} | {o['load_before'][0]:.2f} → {q['load_after'][0]:.2f}")
    o, q = medians["ours"], medians["peer"]
    print(f"{'median':>6} | {o['emails_per_s']:7,.0f} {q['emails_per_s']:7,.0f} {medians['ratio']:9.2f} | "
          f"{cpu(o):>20} | {cpu(q):>20} |")


def medians_of(pairs: list[dict]) -> dict:
    keys = ("emails_per_s", "cpu_s_per_email", "pg_cpu_s_per_email", "row_writes_per_email")

    def median(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    return {"ratio": statistics.median(p["ratio"] for p in pairs),
            **{side: {k: median(p[side][k] for p in pairs) for k in keys}
               for side in ("ours", "peer")}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--emails", type=int, default=10000)
    parser.add_argument("--claim", type=int, default=1000, help="due messages claimed per call")
    parser.add_argument("--ours-via", choices=["pipeline", "scheduler-bench"], default="pipeline",
                        help="our side: benchmarks/pipeline.py's drain in a child of this script "
                             "(measures the PostgreSQL backend too), or scheduler_bench.py "
                             "--throughput-only (its own figures)")
    parser.add_argument("--in-flight", type=int, default=1,
                        help="SEND_IN_FLIGHT for our side (1: the send path's advice for a "
                             "local backend)")
    parser.add_argument("--peer-python", default=str(ROOT / ".venv-peers" / "bin" / "python"))
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--child", choices=["setup", "run", "contract"], help=argparse.SUPPRESS)
    parser.add_argument("--due", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--run", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--template", default=str(ROOT / "var" / "peers_template.json"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "setup":
        ours_setup(args.template)
        return
    if args.child == "run":
        print(json.dumps(ours_run(args.run, args.emails, args.claim)), flush=True)
        return
    if args.child == "contract":
        contract_stub(args.run, args.due, args.claim, args.json)
        return
    os.environ["SEND_IN_FLIGHT"] = str(args.in_flight)

    server = os.environ.get("BENCH_PEERS_DATABASE_URL", DEFAULT_SERVER).rstrip("/") + "/"
    ours_db = database_create(server + "lcrm_bench_peer_ours")
    peer_db = database_create(server + "lcrm_bench_peer_po")
    Path(args.template).parent.mkdir(parents=True, exist_ok=True)
    me = [sys.executable, str(Path(__file__).resolve())]
    peer = [args.peer_python, str(ROOT / "benchmarks" / "peer_post_office.py"),
            "--template", args.template]
    child_run(me + ["--child", "setup", "--template", args.template], ours_db, setup=True)
    child_run(peer + ["--setup"], peer_db, setup=True)
    print(f"{args.emails:,} emails per run, {args.pairs} pairs "
          f"(ours, then post-office 3.12.0), anymail's test backend, PostgreSQL")
    pairs = []
    for run in range(args.pairs):
        ours = child_run(ours_command(args, run), ours_db)
        theirs = child_run(peer + ["--emails", str(args.emails)], peer_db)
        pairs.append(pair_summary(ours, theirs))
        send_path = ours["send_path"]
        print(f"pair {run + 1}: ours {pairs[-1]['ours']['emails_per_s']:,.0f}/s, post-office "
              f"{pairs[-1]['peer']['emails_per_s']:,.0f}/s", flush=True)
    medians = medians_of(pairs)
    print(f"our send path: {send_path}")
    writes = {side: medians[side]["row_writes_per_email"] for side in ("ours", "peer")}
    print(f"row writes per email (inserted, updated, deleted; PostgreSQL's counters): "
          f"ours {writes['ours']}, post-office {writes['peer']}")
    print(f"rendered sizes (subject/text/html chars): ours {pairs[0]['ours']['sizes']}, "
          f"post-office {pairs[0]['peer']['sizes']}")
    table_print(pairs, medians)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"send_path": send_path, "emails": args.emails, "pairs": pairs,
             "medians": medians}, indent=2))


if __name__ == "__main__":
    main()
