"""CSV import benchmark: rows/s and peak memory for customers and orders, first and again.

    make bench-import                                        # PostgreSQL lcrm_bench_import
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lcrm_bench_import \\
        .venv/bin/python benchmarks/import_bench.py --rows 100000 1000000 --runs 3

It needs a scratch database in DATABASE_URL (it migrates it and empties the customer
tables). It writes the CSV files once into var/bench/ (customers: profile, consent with
its date for half of them, one declared number attribute and one new text attribute;
orders: one per customer), then for each size and run, each in a fresh process so that
peak memory is the import's own:

1. imports the customers into empty tables, then the same file again (nothing changes);
2. imports the orders, then the same file again.

It prints rows/s (medians of --runs) and the peak resident memory of each process, and
the resident memory after the first chunk against the end of the import, which shows
that memory does not grow with the file.
"""
import argparse
import datetime as dt
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyaltycrm.settings.base")

UTC = dt.timezone.utc
LOCALES = [("sv", "Europe/Stockholm", "SE"), ("nb", "Europe/Oslo", "NO"),
           ("en", "Europe/London", "GB"), ("da", "Europe/Copenhagen", "DK")]


def csv_write(rows: int, folder: Path) -> tuple[Path, Path]:
    """The two files for `rows` customers (made once, deterministic)."""
    folder.mkdir(parents=True, exist_ok=True)
    customers, orders = folder / f"customers_{rows}.csv", folder / f"orders_{rows}.csv"
    if customers.exists() and orders.exists():
        return customers, orders
    rng = random.Random(rows)
    start = dt.datetime(2020, 1, 1, tzinfo=UTC)
    with open(customers, "w") as c, open(orders, "w") as o:
        c.write("external_id,email,first_name,last_name,locale,time_zone,country,"
                "signed_up_at,marketing_consent,marketing_consent_at,shoe_size,favourite\n")
        o.write("external_id,customer_external_id,amount,currency,placed_at\n")
        for n in range(1, rows + 1):
            locale, zone, country = LOCALES[n % 4]
            signed = start + dt.timedelta(minutes=rng.randrange(3_000_000))
            consent = "true" if n % 2 else ""
            consent_at = signed.isoformat().replace("+00:00", "Z") if n % 2 else ""
            c.write(f"b-{n},person{n}@example.com,Kari,Nordmann{n % 97},{locale},{zone},"
                    f"{country},{signed.isoformat().replace('+00:00', 'Z')},{consent},"
                    f"{consent_at},{36 + n % 10},{('red', 'green', 'blue')[n % 3]}\n")
            placed = min(signed + dt.timedelta(days=rng.randrange(1, 900)),
                         dt.datetime(2025, 12, 31, tzinfo=UTC))
            o.write(f"o-{n},b-{n},{rng.randrange(100, 500000) / 100:.2f},SEK,"
                    f"{placed.isoformat().replace('+00:00', 'Z')}\n")
    return customers, orders


def child(kind: str, path: Path) -> None:
    """One import in this process; prints a JSON line with its numbers."""
    import django

    django.setup()
    from campaigns.services.imports import RejectsWriter, import_run

    rss = []

    def progress(report):
        with open("/proc/self/statm") as f:
            rss.append(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"))

    started = time.perf_counter()
    with open(path, "rb") as stream:
        report = import_run(kind=kind, stream=stream, progress=progress,
                            rejects=RejectsWriter(path.with_suffix(".rejects.csv")))
    seconds = time.perf_counter() - started
    print(json.dumps({
        "rows": report.rows, "seconds": seconds, "created": report.created,
        "updated": report.updated, "unchanged": report.unchanged, "rejected": report.rejected,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_first_chunk_mb": rss[0] / 2**20, "rss_end_mb": rss[-1] / 2**20,
    }))


def one(kind: str, path: Path) -> dict:
    # As in production: DEBUG off (with it on, Django keeps every query's SQL in memory).
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": os.environ.get("SECRET_KEY", "bench")}
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(path)],
                         check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def tables_empty() -> None:
    from django.db import connection

    tables = ["campaigns_consentevent", "campaigns_subscription", "campaigns_order",
              "campaigns_attributedefinition", "campaigns_customer"]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")
    from campaigns.models import AttributeDefinition

    AttributeDefinition.objects.create(key="shoe_size", type="number")


def machine_reference_ms() -> float:
    """How fast this machine runs plain Python: the best of five runs of one loop. Machines
    of the same kind have differed 2-3x here; this tells results from different days apart."""
    import timeit

    return min(timeit.repeat("sum(i * i for i in range(1_000_000))", number=1, repeat=5)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], Path(args.child[1]))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}; {os.cpu_count()} CPUs; load "
          f"{os.getloadavg()[0]:.1f}; {machine_reference_ms():.0f} ms for the reference "
          "loop (the same machine speed gives comparable figures)")
    for rows in args.rows:
        customers, orders = csv_write(rows, ROOT / "var" / "bench")
        results: dict[str, list[dict]] = {}
        for _ in range(args.runs):
            tables_empty()
            connection.close()
            for label, kind, path in (("customers, first import", "customers", customers),
                                      ("customers, same file again", "customers", customers),
                                      ("orders, first import", "orders", orders),
                                      ("orders, same file again", "orders", orders)):
                results.setdefault(label, []).append(one(kind, path))
        print(f"\n{rows:,} rows ({customers.stat().st_size / 2**20:.0f} MB customers file)")
        for label, runs in results.items():
            rates = [r["rows"] / r["seconds"] for r in runs]
            last = runs[-1]
            print(f"  {label:28} {statistics.median(rates):9,.0f} rows/s "
                  f"(runs: {', '.join(f'{r:,.0f}' for r in rates)}); "
                  f"peak RSS {max(r['maxrss_mb'] for r in runs):.0f} MB; RSS after the "
                  f"first chunk {last['rss_first_chunk_mb']:.0f} MB, at the end "
                  f"{last['rss_end_mb']:.0f} MB; created {last['created']:,}, updated "
                  f"{last['updated']:,}, unchanged {last['unchanged']:,}, rejected "
                  f"{last['rejected']:,}")


if __name__ == "__main__":
    main()
