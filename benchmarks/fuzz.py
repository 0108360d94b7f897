"""make fuzz: schemathesis against the real API (gunicorn, PostgreSQL, a real key).

    make fuzz                                     # the full size: a few minutes
    make fuzz FUZZ_ARGS="--quick"                 # the CI size: a minute or less
    .venv/bin/python benchmarks/fuzz.py --max-examples 500 --seed 1

It recreates a scratch database (lcrm_fuzz by default, FUZZ_DATABASE_URL or
--database-url), migrates it, issues an API key, starts gunicorn (DEBUG off, 2 workers, an
in-memory broker) on a free loopback port, and runs schemathesis (`st run`, every phase,
positive and negative data) with these checks on every response:

* not_a_server_error: no 5xx, for any input;
* status_code_conformance, content_type_conformance, response_headers_conformance and
  response_schema_conformance: every answer is one the OpenAPI document lists, shaped as
  it says;
* negative_data_rejection: what the document forbids is refused (a 4xx);
* ignored_auth and the rest of schemathesis's checks;
* positive_data_accepted (benchmarks/fuzz_hooks.py, instead of schemathesis's own): what the
  document allows is taken (2xx), or refused for a reason the document names that no
  schema can express: 404/409 for a coupon that does not exist, 400 for rules over stored
  data and the clock (a new customer without email, an order of another customer, a time
  over a day ahead) and for NUL deep inside free-form properties.

Exit code 0 when schemathesis found nothing; its failures otherwise, with the code to
reproduce each (and the server's log when it answered 5xx).
"""
import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Every check schemathesis has, but its positive-data check: fuzz_hooks.py has ours, which
# knows the API's documented rules that no schema can state.
EXCLUDED_CHECKS = "positive_data_acceptance"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_recreate(url: str) -> None:
    server, _, name = url.rpartition("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get(
        "FUZZ_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/lcrm_fuzz"))
    parser.add_argument("--quick", action="store_true",
                        help="the CI size: 30 examples per operation, 45 s at most")
    parser.add_argument("--max-examples", type=int, default=300)
    parser.add_argument("--max-time", type=int, default=300, help="seconds, at most")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    if args.quick:
        args.max_examples, args.max_time = 30, 45
        # CI runs one fixed sample (seed 1), so that it fails only for a change of the code.
        args.seed = 1 if args.seed is None else args.seed

    tmp = Path(tempfile.mkdtemp(prefix="lcrm-fuzz-"))
    env = {**os.environ, "DATABASE_URL": args.database_url, "DEBUG": "false",
           "SECRET_KEY": secrets.token_urlsafe(50), "SUPPRESSION_HASH_KEY": secrets.token_hex(32),
           "SITE_URL": "https://fuzz.example.com", "ALLOWED_HOSTS": "127.0.0.1",
           "CELERY_BROKER_URL": "memory://", "LOYALTYCRM_VAR_DIR": str(tmp / "var"),
           "DJANGO_SETTINGS_MODULE": "loyaltycrm.settings.base"}
    manage = [sys.executable, str(ROOT / "manage.py")]
    database_recreate(args.database_url)
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    key = subprocess.run([*manage, "create_api_key", "fuzz"], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout.strip()

    port = free_port()
    log_path = tmp / "gunicorn.log"
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "loyaltycrm.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2",
         "--timeout", "60", "--access-logfile", "-"],
        cwd=ROOT, env=env, stdout=open(log_path, "w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        command = [
            str(BIN / "st"), "run", f"{base}/api/v1/openapi.json",
            "--header", f"Authorization: Bearer {key}", "--exclude-checks", EXCLUDED_CHECKS,
            "--max-examples", str(args.max_examples), "--max-time", str(args.max_time),
            "--workers", "2", "--request-timeout", "30",
            *(["--seed", str(args.seed)] if args.seed is not None else []),
        ]
        print(f"fuzz: {args.max_examples} examples per operation, {args.max_time} s at most, "
              f"against gunicorn on {base} and {args.database_url.rpartition('@')[2]}",
              flush=True)
        result = subprocess.run(command, cwd=tmp, env={
            **env, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": "fuzz_hooks",
            "PYTHONPATH": str(ROOT / "benchmarks")})
        if result.returncode:
            errors = [line for line in log_path.read_text().splitlines()
                      if "Traceback" in line or "Error" in line]
            if errors:
                print("gunicorn's log (errors):", *errors[-40:], sep="\n")
        return result.returncode
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
