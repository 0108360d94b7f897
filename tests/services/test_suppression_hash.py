"""The suppression list's keyed hash (GD-12), lifting a suppression, the start-up check and
the migration that re-keys the old plain hashes."""
import hashlib
import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from campaigns.checks import suppression_hash_key_check
from campaigns.models import Suppression
from campaigns.services.consent import email_hash, suppression_add, suppression_lift
from tests.factories import CustomerFactory

rekey_migration = importlib.import_module("campaigns.migrations.0008_gdpr")


class TestEmailHash:
    def test_is_a_keyed_hmac_not_a_plain_hash(self, settings):
        plain = hashlib.sha256(b"ola.nordmann@example.no").hexdigest()
        first = email_hash("ola.nordmann@example.no")

        settings.SUPPRESSION_HASH_KEY = "another-key"

        assert first != plain
        assert email_hash("ola.nordmann@example.no") != first  # another key: lookups miss

    @pytest.mark.parametrize("variant", [
        " Ola.Nordmann@Example.NO ", "OLA.NORDMANN@EXAMPLE.NO", "ola.nordmann@example.no\n",
    ])
    def test_normalises_case_and_surrounding_space(self, variant):
        assert email_hash(variant) == email_hash("ola.nordmann@example.no")

    def test_keeps_dots_and_plus_tags_apart(self):
        assert email_hash("ola+shop@example.no") != email_hash("ola@example.no")
        assert email_hash("o.la@example.no") != email_hash("ola@example.no")

    def test_non_ascii_local_parts_in_either_unicode_form_match(self):
        composed, decomposed = "bj\u00f6rn@example.se", "bjo\u0308rn@example.se"
        assert email_hash(decomposed.upper()) == email_hash(composed)

    def test_refuses_to_hash_without_a_key(self, settings):
        settings.SUPPRESSION_HASH_KEY = ""
        with pytest.raises(ImproperlyConfigured):
            email_hash("a@example.com")


class TestStartupCheck:
    def test_outside_debug_a_missing_key_is_an_error(self, settings):
        settings.DEBUG, settings.SUPPRESSION_HASH_KEY = False, ""
        assert [e.id for e in suppression_hash_key_check(None)] == ["campaigns.E101"]

    def test_a_set_key_or_debug_passes(self, settings):
        settings.DEBUG, settings.SUPPRESSION_HASH_KEY = False, "k"
        assert suppression_hash_key_check(None) == []
        settings.DEBUG, settings.SUPPRESSION_HASH_KEY = True, ""
        assert suppression_hash_key_check(None) == []


@pytest.mark.django_db
class TestSuppressionLift:
    @pytest.mark.parametrize("reason", ["erased", "manual"])
    def test_lifts_erased_and_manual(self, reason):
        suppression_add(email="a@example.com", reason=reason)

        assert suppression_lift(email=" A@Example.com") is True
        assert not Suppression.objects.exists()

    @pytest.mark.parametrize("reason", ["complained", "bounced"])
    def test_never_lifts_complaints_or_bounces(self, reason):
        suppression_add(email="a@example.com", reason=reason)

        assert suppression_lift(email="a@example.com") is False
        assert Suppression.objects.get().reason == reason

    def test_an_address_not_suppressed_is_a_no_op(self):
        assert suppression_lift(email="nobody@example.com") is False


@pytest.mark.django_db
def test_the_migration_rekeys_what_it_can_and_drops_the_rest(capsys):
    customer = CustomerFactory(email="Kari@Example.no")
    old = hashlib.sha256(b"kari@example.no").hexdigest()
    Suppression.objects.create(email_hash=old, reason="bounced")
    orphan = hashlib.sha256(b"gone@example.no").hexdigest()
    Suppression.objects.create(email_hash=orphan, reason="manual")

    rekey_migration.suppressions_rekey(apps, None)
    rekey_migration.suppressions_rekey(apps, None)  # twice: nothing more changes

    rows = list(Suppression.objects.values_list("email_hash", "reason"))
    assert rows == [(email_hash(customer.email), "bounced")]
    assert "1 re-keyed, 1 without a customer dropped" in capsys.readouterr().out
