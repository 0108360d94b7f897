"""Worker processes for the multi-process benchmarks: start, release together, collect.

A worker prints "ready" once Django is set up, waits for a line on its stdin, then does
its work and prints one JSON line last. No Django here: the parent may not have it set up.
"""
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def database_create(url: str) -> str:
    """Create the database named in `url` when it does not exist; returns `url`."""
    import psycopg

    server, name = url.rsplit("/", 1)
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return url


def workers_run(command: list[str], *, count: int, env: dict) -> tuple[list[dict], float]:
    """Start `count` workers, release them together once all are ready, wait for them.

    Returns their JSON results and the CPU seconds they used (RUSAGE_CHILDREN delta:
    the whole life of each, start-up included).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers = [subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
               for _ in range(count)]
    for worker in workers:
        line = worker.stdout.readline()
        if line.strip() != "ready":
            sys.exit(f"a worker did not start: {line!r}")
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    results = []
    for worker in workers:
        out, _ = worker.communicate()
        if worker.returncode:
            sys.exit(f"a worker failed (exit {worker.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return results, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def worker_wait() -> None:
    """In a worker: say ready and wait for the parent's go."""
    print("ready", flush=True)
    sys.stdin.readline()


def worker_done(result: dict) -> None:
    print(json.dumps(result), flush=True)
