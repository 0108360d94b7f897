"""export_customer and erase_customer: what they print, ask and refuse."""
import io
import json

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import Customer, PrivacyRequest, Suppression
from campaigns.services.consent import email_hash
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
EMAIL = "kari.nordmann@example.no"


def run(name, *args, stdin_text=None, monkeypatch=None):
    out = io.StringIO()
    if stdin_text is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin_text))
    call_command(name, *args, stdout=out)
    return out.getvalue()


class TestExportCustomer:
    def test_prints_the_json_document_and_records_the_request(self):
        customer = CustomerFactory(email=EMAIL, external_id="k-1")

        document = json.loads(run("export_customer", "--email", " Kari.Nordmann@Example.NO"))

        assert document["format"] == "loyaltycrm.customer-export/1"
        assert document["customer"]["external_id"] == "k-1"
        assert (document["customer"]["id"], document["orders"]) == (customer.pk, [])
        record = PrivacyRequest.objects.get()
        assert (record.kind, record.actor, record.customer_id) == ("export", "command",
                                                                    customer.pk)

    def test_by_external_id(self):
        CustomerFactory(external_id="k-1")

        assert json.loads(run("export_customer", "--external-id", "k-1"))["customer"][
            "external_id"] == "k-1"

    def test_an_unknown_customer_is_a_clear_error(self):
        with pytest.raises(CommandError, match="No customer has this email address"):
            run("export_customer", "--email", "nobody@example.com")
        assert not PrivacyRequest.objects.exists()

    def test_an_address_shared_by_two_customers_asks_for_the_external_id(self):
        CustomerFactory(email=EMAIL, external_id="k-1")
        CustomerFactory(email=EMAIL.upper(), external_id="k-2")

        with pytest.raises(CommandError, match=r"2 customers .*k-1, k-2.*--external-id"):
            run("export_customer", "--email", EMAIL)

    def test_needs_exactly_one_of_email_or_external_id(self):
        with pytest.raises(CommandError):
            run("export_customer")
        with pytest.raises(CommandError):
            run("export_customer", "--email", EMAIL, "--external-id", "k-1")
        with pytest.raises(CommandError, match="non-empty"):
            run("export_customer", "--email", "  ")


class TestEraseCustomer:
    def test_asks_first_and_a_no_changes_nothing(self, monkeypatch, capsys):
        CustomerFactory(email=EMAIL, external_id="k-1")

        out = run("erase_customer", "--email", EMAIL, stdin_text="no\n", monkeypatch=monkeypatch)

        assert "cancelled" in out
        assert "irreversibly erases 1 customer(s) (external ids: k-1)" in capsys.readouterr().out
        assert Customer.objects.get().erased_at is None
        assert not Suppression.objects.exists()

    def test_yes_erases_and_prints_the_audit_record(self, monkeypatch):
        customer = CustomerFactory(email=EMAIL, external_id="k-1")

        out = run("erase_customer", "--external-id", "k-1", stdin_text="yes\n",
                  monkeypatch=monkeypatch)

        customer.refresh_from_db()
        record = PrivacyRequest.objects.get(kind="erasure")
        assert f"Audit record(s): #{record.pk}" in out
        assert customer.erased_at is not None and customer.email == ""
        assert Suppression.objects.filter(email_hash=email_hash(EMAIL)).exists()

    def test_noinput_skips_the_question_and_erases_every_row_with_the_address(self):
        CustomerFactory(email=EMAIL, external_id="k-1")
        CustomerFactory(email=EMAIL.upper(), external_id="k-2")

        out = run("erase_customer", "--email", EMAIL, "--noinput")

        assert "Erased 2 customer(s)" in out
        assert Customer.objects.filter(erased_at__isnull=True).count() == 0
        assert PrivacyRequest.objects.filter(actor="command").count() == 2

    def test_running_it_twice_is_safe(self):
        CustomerFactory(email=EMAIL)
        run("erase_customer", "--email", EMAIL, "--noinput")

        out = run("erase_customer", "--email", EMAIL, "--noinput")

        assert "No customer data is held for this address; it is on the suppression list "\
               "already." in out
        assert Suppression.objects.count() == 1
        assert PrivacyRequest.objects.count() == 1

    def test_an_address_never_held_is_suppressed_anyway(self):
        out = run("erase_customer", "--email", EMAIL, "--noinput")

        assert "suppression list now" in out
        assert Suppression.objects.get().reason == "erased"

    def test_an_unknown_external_id_is_an_error(self):
        with pytest.raises(CommandError, match="No customer has external id 'x-9'"):
            run("erase_customer", "--external-id", "x-9", "--noinput")
