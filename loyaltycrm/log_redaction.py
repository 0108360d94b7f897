"""Link tokens kept out of every log line.

A public page's path carries a signed token (`/u/<token>`, `/s/<token>/9`, ...) that opens
someone's preferences, survey or export, or a referral code (`/r/<code>`) that names a
customer, so it must not sit in logs. The rule lives here,
once, for gunicorn's access log (gunicorn.conf.py) and for Django's own request loggers
(`django.request` logs "Not Found: /u/<token>/..."; `django.server` under runserver), which
the LOGGING setting routes through `TokenRedactingFilter`. Plain Python, no Django import:
gunicorn reads it before Django starts.
"""
import logging
import re

# The public pages whose path carries a signed token (campaigns/urls.py), wherever the
# path appears in a message (alone, or in a request line "GET /u/… HTTP/1.1").
# A referral link's code (`/r/<code>`) names its customer to whoever reads the log: kept out too.
_TOKEN_PATH = re.compile(r"(?<![\w/])/(u|privacy|s|subscribe/confirm|r)/[^/\s?\"']+")


def path_redacted(text: str) -> str:
    """The text with each public page's token replaced by `<token>`."""
    return _TOKEN_PATH.sub(r"/\1/<token>", text or "")


class TokenRedactingFilter(logging.Filter):
    """Rewrites a record's message and string arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = path_redacted(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(path_redacted(arg) if isinstance(arg, str) else arg
                                for arg in record.args)
        return True
