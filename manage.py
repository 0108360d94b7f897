#!/usr/bin/env python
"""Django's command-line utility."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyaltycrm.settings.base")
    if "SECRET_KEY" not in os.environ and "DEBUG" not in os.environ:
        # No production key and no say: a command on a developer's checkout is local
        # development (a random key kept in var/, DEBUG on), as `make run` says explicitly.
        # The web server (gunicorn, loyaltycrm.wsgi) and the Celery workers still refuse to
        # start without SECRET_KEY.
        os.environ["DEBUG"] = "true"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
