"""gunicorn.conf.py: settings from the environment, and an access log without personal data."""
import datetime as dt
import runpy
import types
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"


def conf(monkeypatch, **env) -> dict:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def test_workers_and_timeouts_come_from_the_environment(monkeypatch):
    settings = conf(monkeypatch, WEB_CONCURRENCY="3", GUNICORN_TIMEOUT="45",
                    GUNICORN_THREADS="4", GUNICORN_BIND="127.0.0.1:9000")

    assert (settings["workers"], settings["timeout"], settings["threads"]) == (3, 45, 4)
    assert (settings["worker_class"], settings["bind"]) == ("gthread", ["127.0.0.1:9000"])


def test_a_value_that_is_not_a_number_stops_the_start_naming_the_variable(monkeypatch):
    with pytest.raises(SystemExit, match="GUNICORN_TIMEOUT"):
        conf(monkeypatch, GUNICORN_TIMEOUT="30s")


def test_the_access_log_has_no_token_address_query_or_header(monkeypatch):
    settings = conf(monkeypatch)
    logger = settings["AccessLogger"].__new__(settings["AccessLogger"])
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/u/SECRET-TOKEN/preferences?t=x",
               "PATH_INFO": "/u/SECRET-TOKEN/preferences", "QUERY_STRING": "t=x",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "192.0.2.7",
               "HTTP_REFERER": "https://mail.example/?email=astrid@example.se",
               "HTTP_USER_AGENT": "Mozilla"}
    response = types.SimpleNamespace(status="200 OK", sent=12, headers=[])
    request = types.SimpleNamespace(headers=[("AUTHORIZATION", "Bearer lcrm_secret")])

    atoms = logger.atoms(response, request, environ, dt.timedelta(milliseconds=5))
    line = settings["access_log_format"] % atoms

    assert "/u/<token>/preferences" in line
    for secret in ("SECRET-TOKEN", "t=x", "192.0.2.7", "astrid", "Mozilla", "lcrm_secret"):
        assert secret not in line and secret not in str(atoms.values())
