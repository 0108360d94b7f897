"""Bulk CSV import of customers (services/imports.py): counts, idempotency, rejects, consent."""
import csv
import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import AttributeDefinition, ConsentEvent, ConsentSource, Customer, Subscription
from campaigns.services.consent import consent_record
from campaigns.services.imports import ImportRefused, RejectsWriter, import_run
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

HEADER = "external_id,email,first_name,last_name,locale,time_zone,country,signed_up_at\n"
UTC = dt.timezone.utc


def run(tmp_path, content, *, kind="customers", dry_run=False, chunk_rows=2):
    data = content.encode() if isinstance(content, str) else content
    rejects = RejectsWriter(tmp_path / "rejects.csv")
    report = import_run(kind=kind, stream=io.BytesIO(data), rejects=rejects,
                        dry_run=dry_run, chunk_rows=chunk_rows)
    return report


def rejects_of(tmp_path) -> list[dict]:
    path = tmp_path / "rejects.csv"
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as f:
        return list(csv.DictReader(f))


def counts(report):
    return (report.created, report.updated, report.unchanged, report.rejected)


GOOD = HEADER + (
    "c-1,astrid@example.se,Astrid,Lindqvist,sv_se,Europe/Stockholm,se,2024-01-15T10:00:00+01:00\n"
    "c-2,ola@example.no,Ola,Nordmann,nb,Europe/Oslo,NO,\n"
    "c-3,sam@example.com,Sam,,en,,,\n"
)


def test_new_customers_are_created_with_the_apis_normalisation(frozen_clock, tmp_path):
    report = run(tmp_path, GOOD)

    assert counts(report) == (3, 0, 0, 0)
    astrid = Customer.objects.get(external_id="c-1")
    assert (astrid.email, astrid.locale, astrid.country, astrid.time_zone) == (
        "astrid@example.se", "sv-SE", "SE", "Europe/Stockholm")
    assert astrid.signed_up_at == dt.datetime(2024, 1, 15, 9, tzinfo=UTC)
    assert astrid.marketing_consent is False
    assert Customer.objects.get(external_id="c-3").time_zone == ""
    assert not (tmp_path / "rejects.csv").exists()


def test_importing_the_same_file_again_changes_nothing(frozen_clock, tmp_path):
    run(tmp_path, GOOD)
    before = list(Customer.objects.order_by("id").values())

    report = run(tmp_path, GOOD)

    assert counts(report) == (0, 0, 3, 0)
    assert list(Customer.objects.order_by("id").values()) == before


def test_only_changed_customers_are_updated_and_empty_cells_keep_the_stored_value(
    frozen_clock, tmp_path
):
    CustomerFactory(external_id="c-1", email="astrid@example.se", first_name="Astrid",
                    last_name="Berg", locale="sv-SE", time_zone="Europe/Stockholm",
                    country="SE", signed_up_at=dt.datetime(2024, 1, 15, 9, tzinfo=UTC))
    CustomerFactory(external_id="c-2", email="ola@example.no", first_name="Ola",
                    last_name="Nordmann", locale="nb", time_zone="Europe/Oslo", country="NO")
    frozen_clock.advance(days=1)

    report = run(tmp_path, HEADER + (
        "c-1,astrid@example.se,Astrid,Lindqvist,sv-SE,Europe/Stockholm,SE,\n"
        "c-2,ola@example.no,,,,,,\n"
    ))

    assert counts(report) == (0, 1, 1, 0)
    astrid = Customer.objects.get(external_id="c-1")
    assert astrid.last_name == "Lindqvist"
    assert astrid.signed_up_at == dt.datetime(2024, 1, 15, 9, tzinfo=UTC)
    assert astrid.updated_at == frozen_clock.now
    assert Customer.objects.get(external_id="c-2").first_name == "Ola"


def test_each_kind_of_bad_row_is_rejected_with_its_line_and_reason_and_the_rest_imported(
    frozen_clock, tmp_path
):
    content = HEADER + (
        "c-1,not-an-email,Astrid,,sv,,,\n"                         # line 2
        "c-2,ola@example.no,Ola,,nb,Mars/Olympus,,\n"               # line 3
        "c-3,sam@example.com,Sam,,en,,,2024-13-45T00:00:00Z\n"      # line 4
        "c-4,kim@example.com,Kim,,en,,,2024-01-01T00:00:00\n"       # line 5: no zone
        "c-5,eva@example.com,Eva,,en,,\n"                           # line 6: 7 columns
        "c-6,,Nameless,,en,,,\n"                                    # line 7: new, no email
        "c-7,ok@example.com,Ok,,en,,,\n"                            # line 8
        "c-7,again@example.com,Again,,en,,,\n"                      # line 9: duplicate
        ",x@example.com,,,,,,\n"                                    # line 10: no id
        "c-8,bad,,,xx_YY_ZZ,,,\n"                                   # line 11: two problems
    )

    report = run(tmp_path, content, chunk_rows=3)

    assert counts(report) == (1, 0, 0, 9)
    assert list(Customer.objects.values_list("external_id", flat=True)) == ["c-7"]
    reasons = {row["line"]: row["reason"] for row in rejects_of(tmp_path)}
    assert reasons["2"].startswith("email: value is not a valid email address")
    assert reasons["3"] == "time_zone: Unknown time zone. Give an IANA name such as Europe/Stockholm."
    assert reasons["4"].startswith("signed_up_at: Input should be a valid datetime")
    assert reasons["5"].startswith("signed_up_at: The date-time has no time zone")
    assert reasons["6"] == "expected 8 columns, found 7"
    assert reasons["7"] == "email: Required: no customer has this external_id yet."
    assert reasons["9"] == ("external_id: duplicate in the file (first on line 8); only the "
                            "first is imported")
    assert reasons["10"] == "external_id: This field is required."
    assert reasons["11"].startswith("email: ") and "; locale: " in reasons["11"]
    first = rejects_of(tmp_path)[0]
    assert (first["external_id"], first["email"], first["first_name"]) == (
        "c-1", "not-an-email", "Astrid")


def test_a_duplicate_in_a_later_chunk_is_found_too(frozen_clock, tmp_path):
    rows = "".join(f"c-{n},p{n}@example.com,,,,,,\n" for n in range(5))
    report = run(tmp_path, HEADER + rows + "c-1,other@example.com,,,,,,\n", chunk_rows=2)

    assert counts(report) == (5, 0, 0, 1)
    assert rejects_of(tmp_path)[0]["line"] == "7"
    assert Customer.objects.get(external_id="c-1").email == "p1@example.com"


@pytest.mark.parametrize("content, message", [
    ("", "The file is empty"),
    ("c-1,astrid@example.se,Astrid\n", "Missing column(s): external_id"),
    ("email,first_name\nastrid@example.se,Astrid\n", "Missing column(s): external_id"),
    ("external_id,email,email\nc-9,z@example.com,z@example.com\n",
     "Column(s) named twice: email"),
    ("external_id,Shoe Size\nc-9,42\n", "'shoe size' are neither customer fields"),
    ("external_id,offers_consent\nc-9,yes\n", "Only marketing_consent is imported as consent"),
    ("external_id;email\nc-9;z@example.com\n", "separated by ';': save the file as CSV with commas"),
])
def test_a_file_without_a_usable_header_is_refused_with_nothing_written(
    frozen_clock, tmp_path, content, message
):
    with pytest.raises(ImportRefused) as refused:
        run(tmp_path, content)

    assert message in str(refused.value)
    assert "external_id,email,first_name" in str(refused.value) or "twice" in message
    assert not Customer.objects.exists()
    assert not (tmp_path / "rejects.csv").exists()


def test_a_header_that_is_not_utf8_refuses_the_file(frozen_clock, tmp_path):
    with pytest.raises(ImportRefused, match="not UTF-8"):
        run(tmp_path, "external_id,email,f\xf6rnamn\n".encode("latin-1"))


def test_rows_that_are_not_utf8_are_rejected_with_their_bytes_and_bom_and_crlf_are_fine(
    frozen_clock, tmp_path
):
    content = ("\ufeff" + HEADER).encode() + (
        "c-1,bjorn@example.se,Bj\xf6rn,,sv,,,\r\n".encode("latin-1")
        + "c-2,asa@example.se,Åsa,,sv,,,\r\n".encode()
    )

    report = run(tmp_path, content)

    assert counts(report) == (1, 0, 0, 1)
    assert Customer.objects.get().first_name == "Åsa"
    [reject] = rejects_of(tmp_path)
    assert (reject["line"], reject["reason"][:10]) == ("2", "not UTF-8:")
    assert b"Bj\xf6rn" in (tmp_path / "rejects.csv").read_bytes()


def test_a_stray_quote_rejects_its_line_and_the_lines_after_it_are_still_imported(
    frozen_clock, tmp_path
):
    content = HEADER + (
        'c-1,"astrid@example.se,Astrid,,sv,,,\n'             # line 2: quote never closed
        "c-2,ola@example.no,Ola,,nb,,,\n"
        'c-3,sam@example.com,"Sam, Jr.",,en,,,\n'            # a proper quoted comma
        'c-4,"kim@example.com\n'                             # line 5: at the end of the file
    )

    report = run(tmp_path, content)

    assert counts(report) == (2, 0, 0, 2)
    assert Customer.objects.get(external_id="c-3").first_name == "Sam, Jr."
    assert {r["line"]: r["reason"][:12] for r in rejects_of(tmp_path)} == {
        "2": "stray quote:", "5": "stray quote:"}


def test_dry_run_reports_the_same_and_writes_nothing(frozen_clock, tmp_path):
    CustomerFactory(external_id="c-2", email="ola@example.no", first_name="Old")
    content = ("external_id,email,first_name,marketing_consent,marketing_consent_at,shoe_size\n"
               "c-1,astrid@example.se,Astrid,yes,2025-06-01T12:00:00Z,38\n"
               "c-2,ola@example.no,Ola,no,,44\n"
               "c-3,broken,X,,,\n")

    report = run(tmp_path, content, dry_run=True)

    assert counts(report) == (1, 1, 0, 1)
    assert (report.consent_events, report.new_attributes) == (2, ["shoe_size"])
    assert list(Customer.objects.values_list("external_id", "first_name")) == [("c-2", "Old")]
    assert not ConsentEvent.objects.exists() and not AttributeDefinition.objects.exists()
    assert [r["line"] for r in rejects_of(tmp_path)] == ["4"]


CONSENT = "external_id,email,marketing_consent,marketing_consent_at\n"


def test_imported_consent_carries_source_import_and_its_date_and_is_not_repeated(
    frozen_clock, tmp_path
):
    content = CONSENT + (
        "c-1,astrid@example.se,true,2025-06-01T12:00:00+02:00\n"
        "c-2,ola@example.no,,\n"
        "c-3,sam@example.com,false,\n"
    )

    first = run(tmp_path, content)
    again = run(tmp_path, content)

    assert first.consent_events == 2 and again.consent_events == 0
    assert counts(again) == (0, 0, 3, 0)
    events = {e.customer.external_id: e for e in ConsentEvent.objects.select_related("customer")}
    assert set(events) == {"c-1", "c-3"}
    assert (events["c-1"].granted, events["c-1"].source, events["c-1"].occurred_at) == (
        True, ConsentSource.IMPORT, dt.datetime(2025, 6, 1, 10, tzinfo=UTC))
    assert (events["c-3"].granted, events["c-3"].occurred_at) == (False, frozen_clock.now)
    assert dict(Customer.objects.values_list("external_id", "marketing_consent")) == {
        "c-1": True, "c-2": False, "c-3": False}
    assert Subscription.objects.get(customer__external_id="c-1").subscribed is True


def test_consent_true_without_a_date_is_rejected_with_a_reason_that_says_what_to_add(
    frozen_clock, tmp_path
):
    report = run(tmp_path, CONSENT + "c-1,astrid@example.se,yes,\nc-2,ola@example.no,maybe,\n")

    assert counts(report) == (0, 0, 0, 2)
    reasons = [r["reason"] for r in rejects_of(tmp_path)]
    assert reasons[0].startswith("marketing_consent_at: required when marketing_consent is true")
    assert reasons[1] == "marketing_consent: expected true or false, got 'maybe'"


def test_an_existing_customers_consent_is_left_alone_without_a_value_and_withdrawn_by_false(
    frozen_clock, tmp_path
):
    keep = CustomerFactory(external_id="c-1")
    withdraw = CustomerFactory(external_id="c-2")
    for customer in (keep, withdraw):
        consent_record(customer=customer, granted=True, source=ConsentSource.API,
                       at=frozen_clock.now - dt.timedelta(days=10))

    run(tmp_path, CONSENT + "c-1,,,\nc-2,,false,\n")

    assert dict(Customer.objects.values_list("external_id", "marketing_consent")) == {
        "c-1": True, "c-2": False}
    withdrawal = ConsentEvent.objects.get(customer=withdraw, granted=False)
    assert withdrawal.source == ConsentSource.IMPORT


def test_an_old_imported_yes_does_not_undo_a_newer_no(frozen_clock, tmp_path):
    customer = CustomerFactory(external_id="c-1")
    consent_record(customer=customer, granted=False, source=ConsentSource.UNSUBSCRIBE_LINK,
                   at=dt.datetime(2026, 1, 1, tzinfo=UTC))

    report = run(tmp_path, CONSENT + "c-1,,yes,2025-06-01T12:00:00Z\n")

    assert report.consent_events == 0
    customer.refresh_from_db()
    assert customer.marketing_consent is False


def test_further_columns_become_attributes_typed_by_their_definition(frozen_clock, tmp_path):
    AttributeDefinition.objects.create(key="shoe_size", type="number")
    AttributeDefinition.objects.create(key="vip", type="boolean")
    content = ("external_id,email,shoe_size,vip,favourite_colour\n"
               "c-1,astrid@example.se,38,ja,green\n"
               "c-2,ola@example.no,huge,no,\n"
               "c-3,sam@example.com,,,\n")

    report = run(tmp_path, content)

    assert counts(report) == (2, 0, 0, 1)
    assert report.new_attributes == ["favourite_colour"]
    assert Customer.objects.get(external_id="c-1").attributes == {
        "shoe_size": 38, "vip": True, "favourite_colour": "green"}
    assert Customer.objects.get(external_id="c-3").attributes == {}
    assert rejects_of(tmp_path)[0]["reason"] == "shoe_size: expected a number, got 'huge'"
    assert AttributeDefinition.objects.get(key="favourite_colour").type == "text"
    assert run(tmp_path, content).new_attributes == []


def test_an_erased_customer_is_not_brought_back(frozen_clock, tmp_path):
    CustomerFactory(external_id="c-1", email="erased@invalid", erased_at=frozen_clock.now)

    report = run(tmp_path, HEADER + "c-1,astrid@example.se,Astrid,,,,,\n")

    assert counts(report) == (0, 0, 0, 1)
    assert Customer.objects.get().email == "erased@invalid"


def test_the_command_prints_the_summary_and_writes_rejects_next_to_the_file(
    frozen_clock, tmp_path
):
    path = tmp_path / "shop.csv"
    path.write_text(GOOD + "c-4,broken,,,,,,\n")
    out = io.StringIO()

    call_command("import_customers", str(path), stdout=out, stderr=io.StringIO())

    assert "4 rows: 3 created, 0 updated, 0 unchanged, 1 rejected" in out.getvalue()
    assert str(tmp_path / "shop.rejects.csv") in out.getvalue()
    with open(tmp_path / "shop.rejects.csv", newline="") as f:
        assert next(csv.reader(f))[:3] == ["line", "reason", "external_id"]


def test_the_command_refuses_a_file_without_header(frozen_clock, tmp_path):
    path = tmp_path / "shop.csv"
    path.write_text("c-1,astrid@example.se\n")

    with pytest.raises(CommandError, match="refused, nothing was imported. Missing column"):
        call_command("import_customers", str(path), "--dry-run", stdout=io.StringIO())


def test_an_unexpected_error_stops_the_import_saying_what_was_committed(
    frozen_clock, tmp_path, second_chunk_insert_fails
):
    from campaigns.services import imports

    rows = "".join(f"c-{n},p{n}@example.com,,,,,,\n" for n in range(5))

    with pytest.raises(imports.ImportStopped) as stopped:
        run(tmp_path, HEADER + rows, chunk_rows=2)

    assert "stopped near line" in str(stopped.value)
    assert "(2 created, 0 updated) were committed" in str(stopped.value)
    assert Customer.objects.count() == 2
    assert run(tmp_path, HEADER + rows, chunk_rows=2).created == 3
