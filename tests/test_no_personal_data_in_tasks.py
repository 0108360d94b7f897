"""GD-15: Celery messages carry ids only, and the main flows log no email address."""
import inspect
import json
import logging
import typing

import pytest
from celery import current_app
from celery.app.task import Task
from django.test import Client

from campaigns import tasks  # noqa: F401 - registers the tasks
from campaigns.models import Customer
from campaigns.services.api_keys import api_key_create
from campaigns.services.gdpr import customer_erase
from campaigns.tokens import unsubscribe_token

EMAIL = "personal.address@example.se"
# Parameters a task may take: ids, lists of ids, or nothing.
ID_TYPES = {int, list[int], typing.Optional[int]}


def campaign_tasks():
    return sorted((name, task) for name, task in current_app.tasks.items()
                  if name.startswith("campaigns."))


def test_there_are_tasks_to_check():
    names = [name for name, _ in campaign_tasks()]
    assert {"campaigns.send_due", "campaigns.privacy_export_send",
            "campaigns.retention_purge"} <= set(names)


@pytest.mark.parametrize("name, task", campaign_tasks(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_task_takes_ids_only(name, task):
    hints = typing.get_type_hints(task.run)
    for parameter in inspect.signature(task.run).parameters.values():
        if parameter.name == "self":
            continue
        assert parameter.name.endswith(("_id", "_ids")), f"{name}({parameter.name}): ids only"
        assert hints.get(parameter.name) in ID_TYPES, f"{name}({parameter.name}) is not typed as ids"


@pytest.fixture
def published(monkeypatch):
    """Every task call's arguments, as the broker would see them (JSON)."""
    calls = []
    original = Task.apply_async

    def recording(self, args=None, kwargs=None, *rest, **options):
        calls.append((self.name, json.dumps([args, kwargs], default=str)))
        return original(self, args, kwargs, *rest, **options)

    monkeypatch.setattr(Task, "apply_async", recording)
    return calls


@pytest.mark.django_db(transaction=True)
def test_the_main_flows_put_no_address_in_task_messages_or_logs(
        frozen_clock, welcome, policy, published, caplog):
    caplog.set_level(logging.DEBUG)
    _, key = api_key_create(name="shop")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")

    # Ingest a signup, run the tick (which queues the send), ask for the export, erase.
    response = api.post("/api/v1/events", {
        "event_id": "e-1", "type": "signup", "occurred_at": "2026-03-02T08:59:00Z",
        "customer": {"external_id": "c-1", "email": EMAIL, "first_name": "Pia",
                     "consent": {"marketing": True}}}, content_type="application/json")
    assert response.status_code == 201
    tasks.tick.delay()
    customer = Customer.objects.get(external_id="c-1")
    Client().post(f"/privacy/{unsubscribe_token(customer_id=customer.pk)}/export")
    customer_erase(customer=customer, actor="command")
    tasks.retention_purge.delay()

    names = {name for name, _ in published}
    assert {"campaigns.tick", "campaigns.send_due", "campaigns.privacy_export_send",
            "campaigns.retention_purge"} <= names  # the flows really ran through Celery
    leaks = [(name, body) for name, body in published if "@" in body]
    assert leaks == []
    logged = [r for r in caplog.records if EMAIL.split("@")[0] in r.getMessage()]
    assert logged == [], [r.getMessage() for r in logged]
    assert caplog.records  # the flows did log
