"""Link tokens never reach a log line: gunicorn's access log and Django's own loggers."""
import io
import logging

import pytest
from django.test import Client

from loyaltycrm.log_redaction import TokenRedactingFilter, path_redacted


@pytest.mark.parametrize("text, expected", [
    ("Not Found: /u/SECRET1/preferences", "Not Found: /u/<token>/preferences"),
    ('"GET /s/SECRET2/9 HTTP/1.1" 200', '"GET /s/<token>/9 HTTP/1.1" 200'),
    ("/privacy/SECRET3/export", "/privacy/<token>/export"),
    ("/subscribe/confirm/SECRET4", "/subscribe/confirm/<token>"),
    ("/u/SECRET5?lang=nb", "/u/<token>?lang=nb"),
    ("/admin/campaigns/customer/12/", "/admin/campaigns/customer/12/"),
    ("/subscribe", "/subscribe"),
    ('"GET /r/k7qxm2pa9tbc HTTP/1.1" 302', '"GET /r/<token> HTTP/1.1" 302'),
    ("Method Not Allowed (POST): /r/k7qxm2pa9tbc", "Method Not Allowed (POST): /r/<token>"),
])
def test_a_public_pages_token_is_replaced_wherever_the_path_stands(text, expected):
    assert path_redacted(text) == expected


def test_the_filter_rewrites_the_message_and_its_arguments_and_keeps_the_record():
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1,
                               "Method Not Allowed (%s): %s", ("GET", "/u/SECRET6/pause"), None)

    assert TokenRedactingFilter().filter(record) is True
    assert record.getMessage() == "Method Not Allowed (GET): /u/<token>/pause"


@pytest.mark.django_db
def test_djangos_request_log_line_for_a_token_page_holds_no_token():
    # The console handler the LOGGING setting made, writing into a buffer for this test.
    handler = next(h for h in logging.getLogger().handlers
                   if any(isinstance(f, TokenRedactingFilter) for f in h.filters))
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        # A GET on a POST-only page: Django logs a warning with the path, token included.
        response = Client().get("/u/SECRET7TOKEN/preferences")
    finally:
        handler.setStream(previous)

    assert response.status_code == 405
    logged = buffer.getvalue()
    assert "Method Not Allowed (GET): /u/<token>/preferences" in logged
    assert "SECRET7TOKEN" not in logged


@pytest.mark.parametrize("name", ["django", "django.server", "django.request", ""])
def test_every_logger_that_prints_a_request_path_writes_through_the_filter(name):
    # Django's defaults give `django` and `django.server` handlers of their own.
    logger = logging.getLogger(name)
    while logger.handlers == [] and logger.propagate and logger.parent is not None:
        logger = logger.parent
    # pytest's own capturing handlers sit beside ours under test; only ours write out.
    ours = [h for h in logger.handlers if not type(h).__module__.startswith("_pytest")]
    assert ours
    assert all(any(isinstance(f, TokenRedactingFilter) for f in handler.filters)
               for handler in ours)
