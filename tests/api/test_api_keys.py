"""API keys: shown once, stored as a hash, revocable (service, command, admin)."""

import datetime as dt
import hashlib
import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from campaigns.models import ApiKey
from campaigns.services.api_keys import (
    ApiKeyNameTaken,
    api_key_authenticate,
    api_key_create,
    api_keys_revoke,
)
from tests.api.conftest import SIGNUP, ApiClient

pytestmark = pytest.mark.django_db


def test_a_key_is_stored_only_as_its_hash_and_prefix():
    api_key, plaintext = api_key_create(name="webshop")

    assert re.fullmatch(r"lcrm_[A-Za-z0-9_-]{43}", plaintext)
    assert api_key.key_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert api_key.prefix == plaintext[:10]
    assert plaintext not in {api_key.name, api_key.prefix, api_key.key_hash}


def test_a_name_can_be_used_once():
    api_key_create(name="webshop")

    with pytest.raises(ApiKeyNameTaken):
        api_key_create(name="webshop")


def test_authenticating_notes_the_use_at_most_once_a_minute(frozen_clock):
    api_key, plaintext = api_key_create(name="webshop")
    first_use = frozen_clock.now

    assert api_key_authenticate(plaintext=plaintext) == api_key
    frozen_clock.advance(seconds=30)
    api_key_authenticate(plaintext=plaintext)
    assert ApiKey.objects.get().last_used_at == first_use

    frozen_clock.advance(seconds=31)
    api_key_authenticate(plaintext=plaintext)
    assert ApiKey.objects.get().last_used_at == first_use + dt.timedelta(seconds=61)


def test_unknown_empty_and_revoked_keys_do_not_authenticate(frozen_clock):
    api_key, plaintext = api_key_create(name="webshop")
    assert api_key_authenticate(plaintext="") is None
    assert api_key_authenticate(plaintext=plaintext[:-1]) is None

    assert api_keys_revoke(ids=[api_key.pk]) == 1

    assert api_key_authenticate(plaintext=plaintext) is None
    assert api_keys_revoke(ids=[api_key.pk]) == 0


def test_the_command_prints_a_key_that_authenticates(frozen_clock):
    out = StringIO()

    call_command("create_api_key", "webshop", stdout=out, stderr=StringIO())

    plaintext = out.getvalue().strip()
    assert api_key_authenticate(plaintext=plaintext).name == "webshop"
    assert ApiClient(plaintext).post("events", SIGNUP).status_code == 201


def test_the_command_refuses_a_name_in_use():
    api_key_create(name="webshop")

    with pytest.raises(CommandError, match="already exists"):
        call_command("create_api_key", "webshop", stdout=StringIO(), stderr=StringIO())
    assert ApiKey.objects.count() == 1


@pytest.fixture
def admin_client(db):
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def test_the_admin_add_form_asks_only_for_a_name(admin_client):
    response = admin_client.get("/admin/campaigns/apikey/add/")

    assert response.status_code == 200
    assert list(response.context["adminform"].form.fields) == ["name"]


def test_adding_a_key_in_the_admin_shows_the_plaintext_once(admin_client, frozen_clock):
    response = admin_client.post(
        "/admin/campaigns/apikey/add/", {"name": "webshop"}, follow=True
    )

    assert response.status_code == 200
    api_key = ApiKey.objects.get(name="webshop")
    shown = re.search(r"lcrm_[A-Za-z0-9_-]{43}", response.content.decode()).group()
    assert api_key_authenticate(plaintext=shown) == api_key
    assert shown not in admin_client.get("/admin/campaigns/apikey/").content.decode()


def test_the_admin_refuses_a_name_in_use(admin_client):
    api_key_create(name="webshop")

    response = admin_client.post("/admin/campaigns/apikey/add/", {"name": "webshop"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["name"]
    assert ApiKey.objects.count() == 1


def test_the_admin_list_shows_use_and_revocation(admin_client):
    api_key_create(name="webshop")

    response = admin_client.get("/admin/campaigns/apikey/")

    assert response.status_code == 200
    for column in ("Name", "Prefix", "Created at", "Last used at", "Revoked at"):
        assert column in response.content.decode()


def test_the_admin_action_revokes_the_selected_keys(admin_client, frozen_clock):
    kept, _ = api_key_create(name="kept")
    revoked, plaintext = api_key_create(name="revoked")

    response = admin_client.post(
        "/admin/campaigns/apikey/",
        {"action": "revoke_selected", "_selected_action": [revoked.pk]},
        follow=True,
    )

    assert "Revoked 1 key." in response.content.decode()
    revoked.refresh_from_db()
    kept.refresh_from_db()
    assert revoked.revoked_at == frozen_clock.now
    assert kept.revoked_at is None
    assert api_key_authenticate(plaintext=plaintext) is None
