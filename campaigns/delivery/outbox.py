"""A local email backend: every message becomes one .eml file in EMAIL_FILE_PATH.

Used by `make run`, so sent mail can be opened in any mail program without a provider.
"""
import re
import threading
import uuid
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend


class EmlFileBackend(BaseEmailBackend):
    _lock = threading.Lock()

    def __init__(self, *args, file_path=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.folder = Path(file_path or settings.EMAIL_FILE_PATH)

    def send_messages(self, email_messages):
        self.folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            mime = message.message()
            date = re.sub(r"[^0-9A-Za-z]+", "-", mime.get("Date", "")).strip("-")
            path = self.folder / f"{date}-{uuid.uuid4().hex[:12]}.eml"
            path.write_bytes(mime.as_bytes(linesep="\r\n"))
            sent += 1
        return sent
