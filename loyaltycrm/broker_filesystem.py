"""kombu's filesystem transport (the embedded default broker) with atomic message files.

kombu writes a message by opening `<time>_<uuid>.<queue>.msg` and then writing into it;
a consumer polling the folder at that moment moves and reads the still-empty file and
dies on the JSON error (celery/kombu#1551), so the task is lost and the worker stops
consuming. Here a message is written under a name no consumer picks up (`….msg.part`)
and renamed into place, which is atomic within one folder: a consumer sees a whole
message or none. Reading is kombu's own.
"""
import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = f"{final}.part"
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


def register() -> None:
    """Make `filesystem://` broker URLs use this transport."""
    TRANSPORT_ALIASES["filesystem"] = f"{__name__}:Transport"
