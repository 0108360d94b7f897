"""Chaos run: the send path under faults, with real processes (issue 12, "Proven under faults").

    make chaos                                        # 20,000 welcomes, the full fault plan
    make chaos CHAOS_ARGS="--messages 2000 --quick"   # CI size: fewer and shorter faults
    .venv/bin/python benchmarks/chaos.py --messages 2000 --quick --json var/chaos.json

It never touches the machine's own services. It starts, in a temporary directory removed at
the end: its own PostgreSQL (initdb, as the `postgres` user when run as root) and Redis on
free ports, an SMTP sink on loopback (aiosmtpd, in a thread: 20-50 ms per message, records
each Message-ID, recipient and arrival time), two Celery workers and beat (TICK_SECONDS=1).
N customers with recorded marketing consent each sign up, so the welcome journey queues N
messages. While they are sent it SIGKILLs a worker's whole process group several times
(restarting it), restarts Redis and PostgreSQL (`pg_ctl stop -m immediate`), and makes the
sink refuse (421) and then hang (DATA taken, never answered) for a few seconds each. Right
before each kill it notes what was really in flight: SMTP transactions open at the sink
(MAIL FROM .. reply to DATA) and rows in `sending`.

When everything has settled it proves, from the sink and the database (exit code 1 when
any of these fails):

* no recipient received the same journey step twice;
* every message is `sent`, `failed` with a reason, or `unknown`: none left claimed, sending
  or pending and due, no signup without its message (a retry the backoff put after the
  deadline is listed, not counted; so are skipped and expired ones, with their reasons);
* `unknown` messages are no more than what was really in flight at the kills plus the
  messages the sink hung on (and it says how many unknown ones the sink did receive);
* no customer got more marketing mail in 24 h than the policy's max_per_day;
* every `sent` row arrived at the sink and every arrival is a `sent` or `unknown` row.

It also prints how long sending took to resume by itself after each fault, the total time
and the rate. The workers get CLAIM_LEASE_SECONDS=30, SEND_IN_FLIGHT=8, SEND_BATCH_SIZE=200
and EMAIL_TIMEOUT=5 through their environment.
"""
import argparse
import asyncio
import collections
import dataclasses
import datetime as dt
import email.parser
import email.policy
import glob
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
UTC = dt.timezone.utc
SITE_DOMAIN = "chaos.example.com"
MAX_PER_DAY = 1  # the welcome is allowed; a second marketing email in 24 h is a breach
WORKER_ENV = {"CLAIM_LEASE_SECONDS": "30", "SEND_IN_FLIGHT": "8", "SEND_BATCH_SIZE": "200",
              "EMAIL_TIMEOUT": "5", "TICK_SECONDS": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)


# --- The SMTP sink ---------------------------------------------------------------------

@dataclasses.dataclass
class Arrival:
    at: float  # time.time()
    message_id: str  # the uuid inside <uuid@domain>
    recipients: list[str]
    hung: bool  # taken while the sink hung: the client never got an answer


class SinkSMTP(SMTP):
    """aiosmtpd's server, refusing new connections with 421 while the sink says so."""

    async def _handle_client(self):
        if self.event_handler.refusing():
            await self.push("421 4.3.2 chaos: service not available, closing channel")
            self.transport.close()
            return
        await super()._handle_client()

    def connection_lost(self, error):
        self.event_handler.transaction_end(self)
        super().connection_lost(error)


class Sink:
    """The mail server the workers send to; the chaos script switches its faults."""

    def __init__(self):
        self.port = free_port()
        self.lock = threading.Lock()
        self.arrivals: list[Arrival] = []
        self.open: set[int] = set()  # sessions between MAIL FROM and the reply to DATA
        self.refuse_until = 0.0
        self.hang_until = 0.0
        self.hung = 0
        self.parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
        handler = self

        class _Controller(Controller):
            def factory(self):
                return SinkSMTP(handler, **self.SMTP_kwargs)

        self.controller = _Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self):
        self.controller.start()

    def stop(self):
        self.controller.stop()

    def refusing(self) -> bool:
        return time.time() < self.refuse_until

    def in_flight(self) -> int:
        with self.lock:
            return len(self.open)

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def transaction_end(self, server) -> None:
        with self.lock:
            self.open.discard(id(server))

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.refusing():
            # 421 closes the channel (RFC 5321 3.8): answer, then hang up.
            server.loop.call_soon(server.transport.close)
            return "421 4.3.2 chaos: service not available, closing channel"
        with self.lock:
            self.open.add(id(server))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RSET(self, server, session, envelope):
        self.transaction_end(server)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        try:
            headers = self.parser.parsebytes(envelope.original_content or envelope.content)
            message_id = (headers.get("Message-ID") or "").strip().strip("<>").split("@")[0]
            hang = time.time() < self.hang_until
            with self.lock:
                # A hung message counts as taken: a server may deliver what it never answered.
                self.arrivals.append(Arrival(time.time(), message_id, list(envelope.rcpt_tos), hang))
                self.hung += hang
            if hang:
                while time.time() < self.hang_until:
                    await asyncio.sleep(0.05)  # cancelled when the client gives up first
                server.transport.abort()
                await asyncio.sleep(3600)  # connection_lost cancels this
            await asyncio.sleep(random.uniform(0.020, 0.050))
            return "250 2.0.0 OK: queued"
        finally:
            self.transaction_end(server)


# --- PostgreSQL and Redis of our own -------------------------------------------------------

class Services:
    """A throw-away PostgreSQL cluster and Redis server on free loopback ports."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.pg_port, self.redis_port = free_port(), free_port()
        self.pg_dir, self.pg_sock = tmp / "pg" / "data", tmp / "pg" / "sock"
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        self.pg_bin = Path(found[-1]).parent if found else Path(shutil.which("initdb")).parent
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.redis = None
        self.database_url = f"postgres://postgres@127.0.0.1:{self.pg_port}/chaos"
        self.broker_url = f"redis://127.0.0.1:{self.redis_port}/0"

    def pg_initdb(self):
        self.pg_sock.mkdir(parents=True)
        if self.as_postgres:
            shutil.chown(self.tmp / "pg", "postgres", "postgres")
            shutil.chown(self.pg_sock, "postgres", "postgres")
        run([*self.as_postgres, str(self.pg_bin / "initdb"), "-D", str(self.pg_dir), "-A", "trust",
             "-U", "postgres", "--no-sync", "-E", "UTF8"])
        self.pg_start()
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE chaos")

    def pg_start(self):
        options = (f"-p {self.pg_port} -k {self.pg_sock} -c listen_addresses=127.0.0.1 "
                   "-c fsync=on -c max_connections=100")
        run([*self.as_postgres, str(self.pg_bin / "pg_ctl"), "-D", str(self.pg_dir), "-w",
             "-l", str(self.tmp / "pg" / "postgres.log"), "-o", options, "start"])

    def pg_stop(self, mode: str = "fast"):
        subprocess.run([*self.as_postgres, str(self.pg_bin / "pg_ctl"), "-D", str(self.pg_dir),
                        "-m", mode, "-w", "stop"], capture_output=True)

    def dsn(self, name: str = "chaos") -> str:
        return f"host=127.0.0.1 port={self.pg_port} user=postgres dbname={name} connect_timeout=3"

    def redis_start(self):
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp)],
            stdout=open(self.tmp / "redis.log", "a"), stderr=subprocess.STDOUT,
            start_new_session=True)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def redis_kill(self):
        if self.redis is not None and self.redis.poll() is None:
            self.redis.kill()
            self.redis.wait()

    def stop(self):
        self.redis_kill()
        if self.pg_dir.exists():
            self.pg_stop("immediate")


def db_query(services: Services, sql: str, params=()) -> list | None:
    """One query on a fresh connection; None when the database does not answer."""
    try:
        with psycopg.connect(services.dsn()) as conn:
            return conn.execute(sql, params).fetchall()
    except psycopg.Error:
        return None


# --- Workers and beat --------------------------------------------------------------------

class Cluster:
    """Two Celery workers (prefork, one child each) and beat, each in its own process group."""

    NAMES = ("w1", "w2")

    def __init__(self, tmp: Path, env: dict):
        self.tmp, self.env = tmp, env
        self.processes: dict[str, subprocess.Popen] = {}
        self.unexpected: list[dict] = []  # processes that ended by themselves

    def command(self, name: str) -> list[str]:
        celery = [sys.executable, "-m", "celery", "-A", "loyaltycrm"]
        if name == "beat":
            return [*celery, "beat", "-s", str(self.tmp / "beat-schedule"), "--loglevel=INFO"]
        return [*celery, "worker", "-Q", "plan,send,default", "--pool=prefork", "--concurrency=1",
                "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--loglevel=INFO"]

    def start(self, name: str):
        log = open(self.tmp / f"{name}.log", "a")
        self.processes[name] = subprocess.Popen(
            self.command(name), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)  # its own group: a kill reaches the pool child too
        log.close()

    def kill(self, name: str):
        process = self.processes[name]
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()

    def ready(self) -> bool:
        logs = {n: (self.tmp / f"{n}.log").read_text(errors="replace") for n in self.processes}
        return (all(" ready." in logs[n] for n in self.NAMES)
                and "beat: Starting" in logs["beat"])

    def watch(self, elapsed: float):
        """Restart (and note) any process that ended without being killed."""
        for name, process in list(self.processes.items()):
            if process.poll() is not None:
                self.unexpected.append({"process": name, "at_s": round(elapsed, 1),
                                        "exit_code": process.returncode})
                print(f"  ! {name} exited by itself (code {process.returncode}); restarted")
                self.start(name)

    def stop(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                pass
        for name in self.processes:
            self.kill(name)


# --- Phases ----------------------------------------------------------------------------------

def django_setup(services: Services, tmp: Path, sink: Sink) -> dict:
    """Point this process's Django at our services; return the workers' environment."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "loyaltycrm.settings.base",
        "DATABASE_URL": services.database_url,
        "CELERY_BROKER_URL": services.broker_url,
        "LOYALTYCRM_VAR_DIR": str(tmp / "var"),
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(sink.port),
        "SITE_URL": f"https://{SITE_DOMAIN}",
        "DEBUG": "true",
        **WORKER_ENV,
    }
    os.environ.update({k: v for k, v in env.items() if k not in WORKER_ENV})
    import django

    django.setup()
    # The project's root logger is at INFO: aiosmtpd would log every SMTP command.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    return env


def database_prepare(count: int) -> None:
    """Schema, the demo journeys (no demo customers), a policy that lets the welcome go
    now, and `count` consenting customers in UTC (their signups come later)."""
    from django.core.management import call_command

    from campaigns import clock
    from campaigns.models import Customer, FrequencyPolicy
    from campaigns.services.consent import ConsentAnswer, consents_record_bulk
    from campaigns.services.demo import demo_load

    call_command("migrate", verbosity=0)
    demo_load(customers=0)
    FrequencyPolicy.objects.update(max_per_day=MAX_PER_DAY, max_per_week=0, min_gap=None,
                                   quiet_hours_start=None, quiet_hours_end=None)
    now = clock.now()
    Customer.objects.bulk_create([
        Customer(external_id=f"chaos-{i}", email=f"c{i}@chaos.example.com", first_name="Kari",
                 locale="en", time_zone="UTC", country="SE", signed_up_at=now)
        for i in range(count)
    ], batch_size=5000)
    ids = list(Customer.objects.filter(external_id__startswith="chaos-")
               .values_list("id", flat=True))
    # Through the consent service: the log, the subscription and the cached flag.
    consents_record_bulk(answers=[ConsentAnswer(pk, True, now) for pk in ids], source="api")


def signups_post() -> float:
    """One signup event per customer: the welcome journey takes them from here."""
    from campaigns import clock
    from campaigns.models import Customer, Event

    now = clock.now()
    Event.objects.bulk_create([
        Event(customer_id=pk, type="signup", occurred_at=now, event_id=f"chaos-signup-{pk}")
        for pk in Customer.objects.values_list("id", flat=True)
    ], batch_size=5000)
    return time.time()


def faults_plan(quick: bool) -> list[tuple[float, str, float]]:
    """(share of the messages at the sink before it starts, fault, seconds it lasts)."""
    if quick:
        return [(0.10, "kill w1", 0), (0.25, "refuse", 3), (0.40, "redis", 0),
                (0.55, "kill w2", 0), (0.70, "postgres", 0), (0.80, "hang", 3)]
    return [(0.05, "kill w1", 0), (0.15, "refuse", 5), (0.25, "kill w2", 0),
            (0.35, "redis", 0), (0.45, "kill w1", 0), (0.55, "postgres", 0),
            (0.65, "hang", 5), (0.75, "kill w2", 0)]


def faults_inject(plan, *, count, sink, services, cluster, t0, stall_seconds) -> list[dict]:
    """Inject each fault once its share of messages has arrived (or sending stalled)."""
    faults = []
    for share, kind, seconds in plan:
        waited_from, last, last_change = time.monotonic(), sink.count(), time.monotonic()
        checked = time.monotonic()
        while sink.count() < share * count:
            cluster.watch(time.time() - t0)
            if sink.count() != last:
                last, last_change = sink.count(), time.monotonic()
            if time.monotonic() - last_change > stall_seconds:
                print(f"  (no arrival for {stall_seconds} s: injecting {kind} anyway)")
                break
            if time.monotonic() - checked > 1:
                checked = time.monotonic()
                left = db_query(services, "SELECT count(*) FROM campaigns_message "
                                          "WHERE state IN ('pending', 'claimed', 'sending')")
                if left and left[0][0] == 0 and sink.count() > 0:
                    print(f"  (nothing left to send: injecting {kind} on an idle system)")
                    break
            time.sleep(0.05)
        fault = {"fault": kind, "at_sink_count": sink.count(),
                 "waited_s": round(time.monotonic() - waited_from, 1)}
        fault["started"] = time.time()
        if kind.startswith("kill"):
            name = kind.split()[1]
            fault["sink_in_flight"] = sink.in_flight()
            rows = db_query(services, "SELECT count(*) FROM campaigns_message WHERE state = 'sending'")
            fault["sending_rows"] = rows[0][0] if rows else None
            cluster.kill(name)
            time.sleep(1)
            cluster.start(name)
        elif kind == "redis":
            services.redis_kill()
            time.sleep(1)
            services.redis_start()
        elif kind == "postgres":
            services.pg_stop("immediate")
            time.sleep(1)
            services.pg_start()
        elif kind == "refuse":
            sink.refuse_until = time.time() + seconds
            time.sleep(seconds)
        elif kind == "hang":
            hung_before = sink.hung
            sink.hang_until = time.time() + seconds
            time.sleep(seconds)
            fault["hung_messages"] = sink.hung - hung_before
        fault["ended"] = time.time()
        fault["at_s"] = round(fault["started"] - t0, 1)
        fault["lasted_s"] = round(fault["ended"] - fault["started"], 1)
        print(f"  {fault['at_s']:7.1f} s  {kind:<9} after {fault['at_sink_count']:>6} arrivals"
              + (f"; in flight at the sink {fault['sink_in_flight']}, rows sending "
                 f"{fault['sending_rows']}" if "sink_in_flight" in fault else "")
              + (f"; {fault['hung_messages']} messages hung" if "hung_messages" in fault else ""))
        faults.append(fault)
        time.sleep(2)  # faults do not overlap
    return faults


def settle_wait(*, services, sink, cluster, count, t0, timeout) -> dict:
    """Wait until no message is claimed, sending, or pending and due before the deadline."""
    deadline = t0 + timeout
    state = {}
    while True:
        cluster.watch(time.time() - t0)
        rows = db_query(services, """
            SELECT count(*),
                   count(*) FILTER (WHERE state IN ('claimed', 'sending')),
                   count(*) FILTER (WHERE state = 'pending' AND due_at <= now()),
                   count(*) FILTER (WHERE state = 'pending' AND due_at > now()),
                   max(due_at) FILTER (WHERE state = 'pending')
            FROM campaigns_message""")
        if rows:
            total, busy, due, later, last_due = rows[0]
            state = {"messages": total, "claimed_or_sending": busy, "pending_due": due,
                     "pending_later": later}
            waits = last_due is not None and last_due.timestamp() < deadline
            if total >= count and not busy and not due and not waits:
                state["settled"] = True
                break
        if time.time() > deadline:
            state["settled"] = False
            break
        time.sleep(1)
    time.sleep(3)  # a few more ticks must change nothing
    state["at_s"] = round(time.time() - t0, 1)
    return state


def results_collect(*, sink, faults, cluster, count, t0, settle) -> dict:
    """Everything the run proves, from the sink's records and the database."""
    from django.db import connections
    from django.db.models import Count

    from campaigns.models import Customer, Message

    connections.close_all()  # the server was restarted under this process
    now = dt.datetime.now(UTC)
    rows, waiting_retry = {}, 0
    for uuid, pk, customer_id, step_id, state, reason, due_at in Message.objects.values_list(
            "message_id", "id", "customer_id", "step_id", "state", "reason", "due_at"):
        if state == "pending" and due_at > now:
            # Deferred for a retry past the settle deadline: not lost, not yet decided.
            state, waiting_retry = "pending (retry due later)", waiting_retry + 1
        rows[str(uuid)] = (pk, customer_id, step_id, state, reason)
    by_state = collections.Counter((state, reason) for *_, state, reason in rows.values())
    arrivals = sorted(sink.arrivals, key=lambda a: a.at)
    arrived_ids = collections.Counter(a.message_id for a in arrivals)

    # Same recipient, same step, twice at the sink.
    per_step = collections.Counter()
    unmatched = []
    for arrival in arrivals:
        row = rows.get(arrival.message_id)
        if row is None:
            unmatched.append(arrival.message_id)
            continue
        for recipient in arrival.recipients:
            per_step[(recipient, row[2])] += 1
    duplicates = {f"{to} step {step}": n for (to, step), n in per_step.items() if n > 1}

    # Every message accounted for.
    final_ok = sum(n for (state, reason), n in by_state.items()
                   if state in ("sent", "unknown") or (state == "failed" and reason))
    other_final = {f"{state}/{reason}": n for (state, reason), n in by_state.items()
                   if state in ("skipped", "expired")}
    unaccounted = {f"{state}/{reason or '-'}": n for (state, reason), n in by_state.items()
                   if state in ("pending", "claimed", "sending") or (state == "failed" and not reason)}
    customers = Customer.objects.filter(external_id__startswith="chaos-")
    without_message = customers.exclude(messages__isnull=False).count()

    # Unknown against what was really in flight.
    unknown_ids = [u for u, row in rows.items() if row[3] == "unknown"]
    # In flight at a kill: what the sink had open at that instant, or more where the killed
    # worker's `worker_lost` messages arrived all the same — a dead process sends nothing,
    # so each of those was handed over before the kill (one still connecting is not yet
    # open at the sink; under load that window holds a message or two).
    lost_received = sum(1 for u in unknown_ids
                        if rows[u][4] == "worker_lost" and u in arrived_ids)
    in_flight_at_kills = max(sum(f.get("sink_in_flight", 0) for f in faults), lost_received)
    hung = sum(f.get("hung_messages", 0) for f in faults)
    unknown_received = sum(1 for u in unknown_ids if u in arrived_ids)

    # Caps: per recipient at the sink, and per customer in the database.
    recipient_counts = collections.Counter(r for a in arrivals for r in a.recipients)
    sink_breaches = sum(1 for n in recipient_counts.values() if n > MAX_PER_DAY)
    db_breaches = (Message.objects.filter(state__in=Message.CAP_STATES, counts_toward_cap=True)
                   .values("customer_id").annotate(n=Count("id")).filter(n__gt=MAX_PER_DAY).count())

    # Sent rows against the sink.
    sent_ids = {u for u, row in rows.items() if row[3] == "sent"}
    sent_missing = len(sent_ids - set(arrived_ids))
    arrivals_not_sent_or_unknown = sum(
        1 for u in arrived_ids if u not in rows or rows[u][3] not in ("sent", "unknown"))

    # How soon sending resumed by itself after each fault ended.
    times = [a.at for a in arrivals]
    for fault in faults:
        after = next((t for t in times if t > fault["ended"]), None)
        fault["resumed_after_s"] = round(after - fault["ended"], 2) if after else None
        # The longest silence at the sink from the fault's start to 60 s after its end
        # (or to the last arrival of the run, when sending was over before that).
        end = min(fault["ended"] + 60, times[-1]) if times else fault["started"]
        window = [fault["started"], *(t for t in times if fault["started"] < t < end), end]
        fault["longest_gap_s"] = round(max(
            [0.0, *(b - a for a, b in zip(window, window[1:]))]), 2)
        fault["started"] = round(fault["started"] - t0, 2)
        fault["ended"] = round(fault["ended"] - t0, 2)

    first, last = (times[0], times[-1]) if times else (t0, t0)
    results = {
        "messages_expected": count,
        "messages_in_database": len(rows),
        "by_state": {f"{s}/{r or '-'}": n for (s, r), n in sorted(by_state.items())},
        "sink_arrivals": len(arrivals),
        "settle": settle,
        "duplicates": {"count": len(duplicates), "examples": dict(list(duplicates.items())[:10])},
        "unaccounted": {"count": sum(unaccounted.values()) + without_message,
                        "by_state": unaccounted, "customers_without_message": without_message,
                        "still_waiting_for_a_retry": waiting_retry},
        "accounted": final_ok,
        "other_final": other_final,
        "unknown": {"count": len(unknown_ids), "in_flight_at_kills": in_flight_at_kills,
                    "hung_by_sink": hung, "budget": in_flight_at_kills + hung,
                    "received_by_sink": unknown_received},
        "cap_breaches": {"sink_recipients": sink_breaches, "database_customers": db_breaches,
                         "max_per_day": MAX_PER_DAY},
        "sent_vs_sink": {"sent_rows": len(sent_ids), "sent_rows_not_at_sink": sent_missing,
                         "arrivals_not_sent_or_unknown": arrivals_not_sent_or_unknown,
                         "arrivals_unmatched": len(unmatched),
                         "messages_arrived_more_than_once":
                             sum(1 for n in arrived_ids.values() if n > 1)},
        "faults": faults,
        "unexpected_exits": cluster.unexpected,
        "timing": {"total_s": round(settle["at_s"], 1),
                   "sending_s": round(last - first, 1),
                   "messages_per_s": round(len(arrivals) / (last - first), 1) if last > first else None,
                   "first_arrival_s": round(first - t0, 1)},
    }
    results["musts"] = {
        "no step twice to a recipient": len(duplicates) == 0,
        "every message sent, failed with a reason, or unknown":
            results["unaccounted"]["count"] == 0 and len(rows) >= count,
        "unknown within what was in flight": len(unknown_ids) <= in_flight_at_kills + hung,
        "no cap breach": sink_breaches == 0 and db_breaches == 0,
        "sent rows = sink arrivals": (sent_missing == 0 and arrivals_not_sent_or_unknown == 0
                                      and not unmatched),
    }
    return results


def report_print(results: dict) -> None:
    r = results
    print("\n=== chaos: results ===")
    print(f"messages: {r['messages_in_database']} of {r['messages_expected']} in the database, "
          f"{r['sink_arrivals']} arrivals at the sink; settled: {r['settle']['settled']} "
          f"({r['settle']})")
    print("by state/reason: " + ", ".join(f"{k} {v}" for k, v in r["by_state"].items()))
    print(f"same step twice to a recipient: {r['duplicates']['count']} {r['duplicates']['examples'] or ''}")
    u = r["unaccounted"]
    print(f"neither sent, failed with a reason, nor unknown: {u['count']} {u['by_state'] or ''}"
          f" (customers without a message: {u['customers_without_message']}; not counted: pending"
          f" for a retry due after the deadline {u['still_waiting_for_a_retry']})")
    print(f"other final states: {r['other_final'] or 'none'}")
    k = r["unknown"]
    print(f"unknown: {k['count']}; really in flight at the kills {k['in_flight_at_kills']} + hung by "
          f"the sink {k['hung_by_sink']} = {k['budget']}; unknown that the sink did receive: "
          f"{k['received_by_sink']}")
    c = r["cap_breaches"]
    print(f"cap breaches (> {c['max_per_day']} in 24 h): sink {c['sink_recipients']}, "
          f"database {c['database_customers']}")
    s = r["sent_vs_sink"]
    print(f"sent rows {s['sent_rows']}; not at the sink {s['sent_rows_not_at_sink']}; arrivals "
          f"neither sent nor unknown {s['arrivals_not_sent_or_unknown']}; unmatched "
          f"{s['arrivals_unmatched']}; messages arrived more than once "
          f"{s['messages_arrived_more_than_once']}")
    print("faults (s from the signups; resumed = first arrival after the fault ended):")
    for f in r["faults"]:
        extra = ""
        if "sink_in_flight" in f:
            extra = f", in flight {f['sink_in_flight']}, sending rows {f['sending_rows']}"
        if "hung_messages" in f:
            extra = f", hung {f['hung_messages']}"
        print(f"  {f['fault']:<9} at {f['started']:7.1f} s, lasted {f['lasted_s']:4.1f} s, "
              f"resumed after {f['resumed_after_s']} s, longest silence {f['longest_gap_s']} s"
              f"{extra}")
    if r["unexpected_exits"]:
        print(f"processes that exited by themselves: {r['unexpected_exits']}")
    t = r["timing"]
    print(f"total {t['total_s']} s (first arrival at {t['first_arrival_s']} s, sending over "
          f"{t['sending_s']} s): {t['messages_per_s']} messages/s")
    for name, ok in r["musts"].items():
        print(f"  [{'ok' if ok else 'FAIL'}] {name}")


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--quick", action="store_true", help="fewer and shorter faults (CI)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds from the signups to give up settling "
                             "(default 600 for 20,000, scaled, at least 150)")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = parser.parse_args()
    timeout = args.timeout or max(150.0, 600.0 * args.messages / 20000)

    # A stop from outside (CI's timeout, kill) cleans up like Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    tmp = Path(tempfile.mkdtemp(prefix="lcrm-chaos-"))
    tmp.chmod(0o755)  # the postgres user reaches its own folder inside
    services, sink, cluster = Services(tmp), Sink(), None
    try:
        print(f"chaos: {args.messages} messages{' (quick)' if args.quick else ''}; in {tmp}")
        services.pg_initdb()
        services.redis_start()
        sink.start()
        env = django_setup(services, tmp, sink)
        started = time.monotonic()
        database_prepare(args.messages)
        print(f"  PostgreSQL :{services.pg_port}, Redis :{services.redis_port}, sink "
              f":{sink.port}; {args.messages} customers in {time.monotonic() - started:.1f} s")
        cluster = Cluster(tmp, env)
        for name in (*Cluster.NAMES, "beat"):
            cluster.start(name)
        deadline = time.monotonic() + 90
        while not cluster.ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the workers did not start; see the logs in {tmp}")
            time.sleep(0.5)
        t0 = signups_post()
        print(f"  {args.messages} signups posted; faults:")
        faults = faults_inject(faults_plan(args.quick), count=args.messages, sink=sink,
                               services=services, cluster=cluster, t0=t0, stall_seconds=60)
        settle = settle_wait(services=services, sink=sink, cluster=cluster, count=args.messages,
                             t0=t0, timeout=timeout)
        cluster.stop()
        results = results_collect(sink=sink, faults=faults, cluster=cluster,
                                  count=args.messages, t0=t0, settle=settle)
        results["args"] = {"messages": args.messages, "quick": args.quick, "timeout_s": timeout,
                           "worker_env": WORKER_ENV}
        report_print(results)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2, default=str))
        return 0 if all(results["musts"].values()) else 1
    finally:
        if cluster is not None:
            cluster.stop()
        sink.stop()
        services.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
