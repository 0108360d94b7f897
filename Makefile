# Loyalty CRM: `make run` sets up and starts everything; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py

.PHONY: run test bench bench-import bench-dashboard bench-peers bench-network bench-workers bench-api bench-recs bench-referrals \
	chaos fuzz setup venv migrate messages messages-check clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

# Local development, explicitly: DEBUG on (settings are safe by default, DEBUG off), and a
# random SECRET_KEY made once and kept in var/secret-key.txt (like the admin password).
setup run: export DEBUG := true
setup: venv
	mkdir -p var/outbox
	$(MANAGE) migrate --noinput
	$(MANAGE) ensure_admin
	$(MANAGE) ensure_roles --demo-marketer
	$(MANAGE) seed_demo

# Web server (http://127.0.0.1:8000/admin/), a Celery worker and Celery beat, together.
# Ctrl-C stops all three.
run: setup
	$(BIN)/honcho start -f Procfile

# One pytest process per core (pytest-xdist; TEST_WORKERS=0 for a single process), each
# taking whole modules, the long ones first (tests/conftest.py).
TEST_WORKERS ?= auto
test: venv
	$(BIN)/ruff check .
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope

# The scheduler benchmark on PostgreSQL (creates the scratch database lcrm_bench).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/lcrm_bench
bench: venv
	psql "$(dir $(BENCH_DATABASE_URL))postgres" -qc "CREATE DATABASE lcrm_bench" 2>/dev/null || true
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python benchmarks/scheduler_bench.py $(BENCH_ARGS)

# The CSV import benchmark on PostgreSQL (creates the scratch database named in
# BENCH_IMPORT_DATABASE_URL, lcrm_bench_import by default; BENCH_ARGS="--rows 100000 --runs 1"
# to shorten).
BENCH_IMPORT_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/lcrm_bench_import
bench-import: venv
	psql "$(dir $(BENCH_IMPORT_DATABASE_URL))postgres" -qc "CREATE DATABASE $(notdir $(BENCH_IMPORT_DATABASE_URL))" 2>/dev/null || true
	DATABASE_URL=$(BENCH_IMPORT_DATABASE_URL) $(BIN)/python benchmarks/import_bench.py $(BENCH_ARGS)

# Our send path against django-post-office 3.12.0, side by side (issue 12): 6 interleaved
# pairs of 10,000 emails on the scratch databases lcrm_bench_peer_ours and lcrm_bench_peer_po
# (created). post-office is installed for this benchmark only, in .venv-peers.
# BENCH_ARGS="--pairs 2 --emails 2000" to shorten, "--json var/peers.json" to keep the figures.
PEERS_VENV := .venv-peers
BENCH_PEERS_SERVER ?= postgres://postgres@127.0.0.1:5432/
$(PEERS_VENV)/.installed: requirements.txt
	test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/pip install --disable-pip-version-check -q -r requirements.txt \
		django-post-office==3.12.0
	touch $@

bench-peers: venv $(PEERS_VENV)/.installed
	for db in lcrm_bench_peer_ours lcrm_bench_peer_po; do \
		psql "$(BENCH_PEERS_SERVER)postgres" -qc "CREATE DATABASE $$db" 2>/dev/null || true; done
	BENCH_PEERS_DATABASE_URL=$(BENCH_PEERS_SERVER) $(BIN)/python benchmarks/peers_bench.py \
		--peer-python $(PEERS_VENV)/bin/python $(BENCH_ARGS)

# The send path against a fake Postmark on loopback (100 ms, 5 % answered 429), with 1 and
# then 2 worker processes (scratch database lcrm_bench_net, created).
# BENCH_ARGS="--emails 5000 --in-flight 64" once the send path has calls in flight.
BENCH_NET_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/lcrm_bench_net
bench-network: venv
	psql "$(dir $(BENCH_NET_DATABASE_URL))postgres" -qc "CREATE DATABASE $(notdir $(BENCH_NET_DATABASE_URL))" 2>/dev/null || true
	DATABASE_URL=$(BENCH_NET_DATABASE_URL) $(BIN)/python benchmarks/network_bench.py $(BENCH_ARGS)

# The ingestion API under gunicorn (gunicorn.conf.py, 2 workers) on PostgreSQL: a batch of
# 1,000 events, events/s in batches of 100, single-event latency (scratch database
# lcrm_ingest_bench, created). BENCH_ARGS="--runs 1 --seconds 5" to shorten.
BENCH_API_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/lcrm_ingest_bench
bench-api: venv
	DATABASE_URL=$(BENCH_API_DATABASE_URL) $(BIN)/python benchmarks/api_bench.py $(BENCH_ARGS)

# 10,000 welcomes drained by 1 worker process, then by 2, on anymail's test backend
# (CPU-bound; scratch database lcrm_bench_net_workers, created).
BENCH_WORKERS_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/lcrm_bench_net_workers
bench-workers: venv
	psql "$(dir $(BENCH_WORKERS_DATABASE_URL))postgres" -qc "CREATE DATABASE $(notdir $(BENCH_WORKERS_DATABASE_URL))" 2>/dev/null || true
	DATABASE_URL=$(BENCH_WORKERS_DATABASE_URL) $(BIN)/python benchmarks/workers_bench.py $(BENCH_ARGS)

# The Swedish and Norwegian texts of the admin and the public pages: collect new strings
# into locale/*/django.po, translate them there, and compile the .mo files that are committed
# with them. Safe to run again: with no new or changed string the files stay as they are.
# `make messages-check` fails while any entry is untranslated or fuzzy, and lists them.
messages: venv
	$(BIN)/python manage.py makemessages -l sv -l nb --no-location --no-obsolete \
		--ignore=.venv --ignore='.venv-*' --ignore=tests --ignore=var --ignore=benchmarks
	for l in sv nb; do msgfmt --check -o locale/$$l/LC_MESSAGES/django.mo locale/$$l/LC_MESSAGES/django.po; done

messages-check: venv
	$(BIN)/python -m pytest -q -p no:xdist tests/admin/test_admin_site_i18n.py

# The dashboard benchmark on PostgreSQL: 1,000,000 customers and 10,000,000 messages
# (creates the scratch database lcrm_bench_dash; BENCH_ARGS="--reuse" keeps earlier data).
BENCH_DASH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/lcrm_bench_dash
bench-dashboard: venv
	psql "$(dir $(BENCH_DASH_DATABASE_URL))postgres" -qc "CREATE DATABASE lcrm_bench_dash" 2>/dev/null || true
	DATABASE_URL=$(BENCH_DASH_DATABASE_URL) $(BIN)/python benchmarks/dashboard_bench.py $(BENCH_ARGS)

# The recommendations benchmark on PostgreSQL: the nightly recompute from 3,000,000 order
# lines (50,000 products, 1,000,000 customers) and the cost per email of recommendations(4)
# (creates the scratch database lcrm_bench_recs; BENCH_ARGS="--reuse" keeps earlier data,
# "--customers 100000 --lines 300000 --products 5000" makes it small).
BENCH_RECS_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/lcrm_bench_recs
bench-recs: venv
	psql "$(dir $(BENCH_RECS_DATABASE_URL))postgres" -qc "CREATE DATABASE lcrm_bench_recs" 2>/dev/null || true
	DATABASE_URL=$(BENCH_RECS_DATABASE_URL) $(BIN)/python benchmarks/recommendations_bench.py $(BENCH_ARGS)

# The referrals benchmark on PostgreSQL: the dashboard's word-of-mouth section and its
# snapshots on 1,000,000 customers (scratch database lcrm_bench_ref, created;
# BENCH_ARGS="--reuse" keeps earlier data).
BENCH_REF_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/lcrm_bench_ref
bench-referrals: venv
	psql "$(dir $(BENCH_REF_DATABASE_URL))postgres" -qc "CREATE DATABASE lcrm_bench_ref" 2>/dev/null || true
	DATABASE_URL=$(BENCH_REF_DATABASE_URL) $(BIN)/python benchmarks/referrals_bench.py $(BENCH_ARGS)

# The send path under faults with real processes: its own PostgreSQL, Redis and SMTP sink on
# free ports, two workers and beat; kills, restarts and mail-server outages while 20,000
# welcomes go out (CHAOS_ARGS="--messages 2000 --quick" for the CI size).
chaos: venv
	$(BIN)/python benchmarks/chaos.py $(CHAOS_ARGS)

# schemathesis against the real API: gunicorn on loopback, a scratch PostgreSQL database
# (lcrm_fuzz, recreated), a real API key; no 5xx and every answer as the OpenAPI document
# says (FUZZ_ARGS="--quick" for the CI size, a minute or less).
FUZZ_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/lcrm_fuzz
fuzz: venv
	$(BIN)/python benchmarks/fuzz.py --database-url $(FUZZ_DATABASE_URL) $(FUZZ_ARGS)

clean:
	rm -rf var
