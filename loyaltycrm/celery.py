"""The Celery app: configured from Django settings (CELERY_* names), tasks autodiscovered."""
import os
from pathlib import Path

from celery import Celery

from loyaltycrm import broker_filesystem

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyaltycrm.settings.base")
# Before any connection is made: `filesystem://` writes whole message files only.
broker_filesystem.register()

app = Celery("loyaltycrm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _make_filesystem_broker_folders(sender, **kwargs):
    # kombu's filesystem transport expects its folders to exist.
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        folder = (sender.conf.broker_transport_options or {}).get(key)
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
