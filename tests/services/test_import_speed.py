"""The import's faster paths give the same results as the slower ones they replace:
the email rule with its per-domain cache (api_schemas.email_normalised) and new customers
written with their consent state in the INSERT (consent.customers_create_with_consent)."""
import datetime as dt
import io
import re

import pytest
from pydantic import EmailStr, TypeAdapter, ValidationError

from campaigns import api_schemas
from campaigns.api_schemas import EMAIL_LOCAL_NOT_ASCII, Email, email_normalised
from campaigns.models import ConsentEvent, ConsentSource, Customer, Subscription, Topic
from campaigns.services.bulk import model_defaults
from campaigns.services.consent import ConsentAnswer, customers_create_with_consent
from campaigns.services.imports import RejectsWriter, import_run

UTC = dt.timezone.utc
EMAILSTR, EMAIL = TypeAdapter(EmailStr), TypeAdapter(Email)

ADDRESSES = [
    # Everyday addresses (the cached path).
    "a@example.com", "A.B+tag@Example.COM", "a-b_c@e-x.com", "user@sub.domain.co.uk",
    "a@xn--bcher-kva.example", "a@EXAMPLE.com", "x" * 64 + "@example.com",
    "x" * 70 + "@example.com",
    # Internationalised: local part, domain, both.
    "åsa@exempel.se", "a@bücher.example", "a@MÜNCHEN.de", "ñandú@españa.es",
    # Role mailboxes email-validator lower-cases.
    "Postmaster@example.com", "INFO@Example.com",
    # Display names, spaces, quotes.
    "Astrid <a@example.com>", " a@example.com ", '"quoted"@example.com',
    # Bad local parts.
    "a..b@example.com", ".a@example.com", "-a@example.com", "a@@example.com", "@example.com",
    "", "a\n@example.com",
    # Bad domains (also after a good one has been cached).
    "a@example", "a@localhost", "a@-bad.com", "a@bad-.com", "a@example.com.",
    "a@.example.com", "a@exa_mple.com", "a@", "a@example.123", "a@example.invalid",
    "a@example.local", "a@[1.2.3.4]", "a@xn--a.com", "a@x.onion", "a@in-addr.arpa",
    # The special-use name for tests, which is taken (the other difference).
    "qa@shop.test", "QA.1@Shop.TEST", "a@test", "Astrid <a@shop.test>", '"q"@shop.test',
    "a..b@shop.test", "åsa@shop.test",
    # Too long, in total or after the domain is converted.
    "a" * 64 + "@" + ("b" * 60 + ".") * 3 + "com",
    "a" * 190 + "@" + "b" * 60 + ".com",
    "a" * 180 + "@" + "ü" * 30 + ".com",
]


def is_test_domain(address: str) -> bool:
    domain = address.rstrip(">").rpartition("@")[2].lower()
    return domain == "test" or domain.endswith(".test")


class _InATestEnvironment:
    """EmailStr with email-validator's TEST_ENVIRONMENT switched on for the call only."""

    def validate_python(self, value: str):
        import email_validator

        saved, email_validator.TEST_ENVIRONMENT = email_validator.TEST_ENVIRONMENT, True
        try:
            return EMAILSTR.validate_python(value)
        finally:
            email_validator.TEST_ENVIRONMENT = saved


EMAILSTR_IN_A_TEST_ENVIRONMENT = _InATestEnvironment()


def verdict(adapter: TypeAdapter, value: str):
    try:
        return "valid", adapter.validate_python(value)
    except ValidationError as exc:
        return "invalid", [(e["type"], e["msg"]) for e in exc.errors()]


@pytest.mark.parametrize("address", ADDRESSES)
def test_the_api_email_rule_gives_emailstrs_verdict_and_normal_form(address):
    expected = verdict(EMAILSTR, address)
    if is_test_domain(address):
        # A difference on purpose: .test (RFC 6761's name for tests) is taken, as
        # email-validator does in its test environment; otherwise the same verdict.
        expected = verdict(EMAILSTR_IN_A_TEST_ENVIRONMENT, address)
    if expected[0] == "valid" and not expected[1].rpartition("@")[0].isascii():
        # The other difference: a local part outside ASCII is not deliverable.
        expected = ("invalid", [("email_local_part_not_ascii", EMAIL_LOCAL_NOT_ASCII)])
    # Twice: the second time the domain's checks come from the cache.
    assert verdict(EMAIL, address) == expected
    assert verdict(EMAIL, address) == expected


def test_a_domain_is_checked_once_for_many_addresses():
    api_schemas._email_domain_checked.cache_clear()

    normalised = [email_normalised(f"person{n}@Shop.Example.COM") for n in range(50)]

    assert normalised[7] == "person7@shop.example.com"
    info = api_schemas._email_domain_checked.cache_info()
    assert (info.misses, info.hits) == (1, 49)


def test_the_schema_says_email_format_and_the_reserved_domains():
    import email_validator

    schema = TypeAdapter(Email).json_schema()

    assert schema["format"] == TypeAdapter(EmailStr).json_schema()["format"] == "email"
    assert set(api_schemas.EMAIL_RESERVED_DOMAINS) == set(
        email_validator.SPECIAL_USE_DOMAIN_NAMES) - {"test"}
    for refused in ("a@x.invalid", "a@X.Onion", "a@localhost", "a@in-addr.ARPA", "a@x.local"):
        assert re.search(schema["not"]["pattern"], refused), refused
    for taken in ("a@x.test", "a@local.example.com", "a@localhost.se", "a@onion.com"):
        assert not re.search(schema["not"]["pattern"], taken), taken


def test_the_api_schema_refuses_a_bad_address_with_emailstrs_message():
    bad = verdict(EMAILSTR, "a@example")
    with pytest.raises(ValidationError) as refused:
        api_schemas.CustomerIn.model_validate({"external_id": "c-1", "email": "a@example"})

    assert [(e["type"], e["msg"]) for e in refused.value.errors()] == bad[1]


@pytest.mark.django_db
def test_new_customers_get_their_consent_in_the_insert_and_in_the_log():
    at = dt.datetime(2026, 3, 1, 9, tzinfo=UTC)
    defaults = model_defaults(Customer)
    rows = [{**defaults, "created_at": at, "updated_at": at, "external_id": f"c-{n}",
             "email": f"p{n}@example.com"} for n in range(3)]

    ids, events = customers_create_with_consent(
        rows=rows, source=ConsentSource.IMPORT,
        answers={"c-0": ConsentAnswer(0, True, at, "v2", "email_verified"),
                 "c-1": ConsentAnswer(0, False, at)})

    assert set(ids) == {"c-0", "c-1", "c-2"} and events == 2
    consent = dict(Customer.objects.values_list("external_id", "marketing_consent"))
    assert consent == {"c-0": True, "c-1": False, "c-2": False}
    logged = ConsentEvent.objects.get(customer_id=ids["c-0"])
    assert (logged.granted, logged.source, logged.occurred_at, logged.wording_version,
            logged.method, logged.topic) == (True, ConsentSource.IMPORT, at, "v2",
                                             "email_verified", Topic.MARKETING)
    assert dict(Subscription.objects.values_list("customer__external_id", "subscribed")) == {
        "c-0": True, "c-1": False}
    assert not ConsentEvent.objects.filter(customer_id=ids["c-2"]).exists()


@pytest.mark.django_db
def test_an_imported_consent_is_written_once_and_a_reimport_appends_nothing(
    frozen_clock, tmp_path
):
    content = (
        "external_id,email,marketing_consent,marketing_consent_at\n"
        "c-1,Astrid@Example.SE,true,2026-01-05T10:00:00Z\n"
        "c-2,bo@example.se,false,\n"
        "c-3,cay@example.se,,\n"
    ).encode()

    def run():
        return import_run(kind="customers", stream=io.BytesIO(content), chunk_rows=2,
                          rejects=RejectsWriter(tmp_path / "rejects.csv"))

    first = run()
    again = run()

    assert (first.created, first.consent_events) == (3, 2)
    assert (again.unchanged, again.consent_events) == (3, 0)
    customers = {c.external_id: c for c in Customer.objects.all()}
    assert customers["c-1"].email == "Astrid@example.se"
    assert [c.marketing_consent for _, c in sorted(customers.items())] == [True, False, False]
    assert ConsentEvent.objects.count() == 2
    assert ConsentEvent.objects.get(granted=True).occurred_at == dt.datetime(
        2026, 1, 5, 10, tzinfo=UTC)


@pytest.mark.django_db
def test_external_ids_stay_unique_without_the_fields_own_unique_flag():
    from django.db import IntegrityError, transaction

    from tests.factories import CustomerFactory, OrderFactory

    customer = CustomerFactory(external_id="c-1")
    order = OrderFactory(customer=customer, external_id="o-1")

    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerFactory(external_id="c-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(customer=customer, external_id=order.external_id)
    # The API and the import find customers by external id: still one match.
    assert Customer.objects.get(external_id="c-1") == customer


@pytest.mark.django_db
def test_the_admin_still_says_which_field_is_taken():
    from django.core.exceptions import ValidationError as FormError

    from tests.factories import CustomerFactory

    CustomerFactory(external_id="c-1")
    with pytest.raises(FormError) as taken:
        Customer(external_id="c-1", email="other@example.com").full_clean()

    assert taken.value.message_dict["external_id"] == [
        "Customer with this External id already exists."]
