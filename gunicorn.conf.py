"""gunicorn's settings for the web process, every value from the environment.

    .venv/bin/gunicorn loyaltycrm.wsgi          # reads ./gunicorn.conf.py by itself

GUNICORN_BIND (0.0.0.0:8000), WEB_CONCURRENCY (worker processes: 2 × cores + 1),
GUNICORN_THREADS (threads per worker: 1, the sync worker; more picks gthread, each thread
with its own database connection), GUNICORN_TIMEOUT (30 s: a request running longer has
its worker killed and restarted), GUNICORN_GRACEFUL_TIMEOUT (30 s to finish requests on a
restart or a stop), GUNICORN_KEEPALIVE (5 s, behind a proxy), GUNICORN_MAX_REQUESTS
(recycle a worker after that many requests, 0 = never; a random jitter of a tenth keeps
workers from restarting together), FORWARDED_ALLOW_IPS (proxies whose X-Forwarded-*
headers are believed: 127.0.0.1), GUNICORN_ACCESS_LOG ("-" = stdout; empty = none),
GUNICORN_LOG_LEVEL (info), GUNICORN_CONTROL_SOCKET (a path for `gunicornc`; none by
default, so that two servers on one machine do not fight over one socket).

Request size: the request line and each header are bounded here (8 KB, at most 100
headers, as gunicorn's defaults); the body is bounded by the application (1 MB on the
API, 413 before anything parses it: campaigns.middleware) and by Django's
DATA_UPLOAD_MAX_MEMORY_SIZE for forms.

The access log holds no personal data: no client address, no user agent, no referrer,
no query string, and the signed token in the path of public pages (`/u/<token>`, ...)
replaced by `<token>`. A token opens someone's preferences, so it must not sit in logs.
"""
import multiprocessing
import os

from gunicorn.glogging import Logger

from loyaltycrm.log_redaction import path_redacted


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {value!r}") from None


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000").split(",")
workers = _int("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1)
threads = _int("GUNICORN_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
max_requests = _int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = max_requests // 10
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
errorlog = "-"
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
# Time, method, path (tokens hidden), protocol, status, body bytes, milliseconds.
access_log_format = '%(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'

class AccessLogger(Logger):
    """gunicorn's logger, with nothing in the access log that could identify a person."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        path = path_redacted(environ.get("PATH_INFO", ""))
        atoms.update({
            "h": "-", "u": "-", "f": "-", "a": "-", "q": "",
            "U": path, "r": f"{environ.get('REQUEST_METHOD')} {path} {atoms['H']}",
        })
        # Only the plain atoms: request and response headers (Authorization, Cookie,
        # Set-Cookie) and the WSGI environment ({…}i, {…}o, {…}e) are never logged.
        return {key: value for key, value in atoms.items() if not key.startswith("{")}


logger_class = AccessLogger
