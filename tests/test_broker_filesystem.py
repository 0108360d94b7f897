"""The embedded broker writes whole message files: a consumer never reads half a message."""
import os

import pytest
from kombu import Connection
from kombu.transport.virtual import Empty

from loyaltycrm import broker_filesystem


@pytest.fixture
def channel(tmp_path):
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder),
               "control_folder": str(tmp_path / "control")}
    with Connection("filesystem://", transport_options=options) as connection:
        assert isinstance(connection.transport, broker_filesystem.Transport)
        yield connection.default_channel


def test_a_consumer_polling_while_a_message_is_written_sees_nothing_then_all_of_it(
        channel, monkeypatch):
    seen_while_writing = []
    real_open = open

    def open_and_poll(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        if "w" in mode:
            # The worst moment: the file exists and nothing is written yet.
            try:
                seen_while_writing.append(channel._get("celery"))
            except Empty:
                seen_while_writing.append(None)
        return handle

    monkeypatch.setattr(broker_filesystem, "open", open_and_poll, raising=False)
    channel._put("celery", {"body": "hello", "properties": {}})
    monkeypatch.undo()

    assert seen_while_writing == [None]
    assert channel._get("celery")["body"] == "hello"
    assert not [name for name in os.listdir(channel.data_folder_out) if name.endswith(".part")]
