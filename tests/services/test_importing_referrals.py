"""The customers CSV import takes a referral_code column (issue 16)."""
import pytest

from campaigns.models import Customer, Event, Referral, ReferralCode
from tests.factories import CustomerFactory
from tests.services.test_importing import counts, rejects_of, run

pytestmark = pytest.mark.django_db

HEADER = "external_id,email,first_name,referral_code\n"


@pytest.fixture
def referrer(db):
    customer = CustomerFactory(external_id="ref-1", email="astrid@example.se")
    ReferralCode.objects.create(customer=customer, code="k7qxm2pa9tbc")
    return customer


def referral_of(external_id: str) -> tuple:
    return Referral.objects.values_list("status", "reason", "referrer__external_id",
                                        "source").get(referred__external_id=external_id)


def test_new_customers_with_codes_are_counted_or_ignored_and_bad_rows_rejected_alone(
        referrer, frozen_clock, tmp_path):
    CustomerFactory(external_id="old-1")
    content = HEADER + (
        "f-1,f1@example.se,Sam,k7qxm2pa9tbc\n"
        "f-2,f2@example.se,Kim,zz9yx8wv7uab\n"
        "f-3,f3@example.se,Ola,not a code\n"
        "f-4,ASTRID@example.se,Astrid,k7qxm2pa9tbc\n"
        f"f-5,f5@example.se,Lo,{'x' * 65}\n"
        "f-6,f6@example.se,Eva,\n"
        "old-1,old@example.se,Old,k7qxm2pa9tbc\n"
        "f-7,f7@example.se,Bo, k7qxm2pa9tbc \n"
    )

    report = run(tmp_path, content, chunk_rows=3)

    assert counts(report) == (6, 1, 0, 1)
    assert referral_of("f-1") == ("counted", "", "ref-1", "import")
    assert referral_of("f-2") == ("ignored", "unknown_code", None, "import")
    assert referral_of("f-3") == ("ignored", "malformed_code", None, "import")
    assert referral_of("f-4") == ("ignored", "self_referral", None, "import")
    assert referral_of("f-7") == ("counted", "", "ref-1", "import")
    assert not Referral.objects.filter(
        referred__external_id__in=["f-5", "f-6", "old-1"]).exists()
    [rejected] = rejects_of(tmp_path)
    assert (rejected["line"], rejected["reason"].split(":")[0]) == ("6", "referral_code")
    assert not Customer.objects.filter(external_id="f-5").exists()
    # The column is the referral code, never a custom attribute.
    assert all("referral_code" not in c.attributes for c in Customer.objects.all())
    assert (report.referrals_counted, report.referrals_ignored) == (2, 3)
    assert "2 counted, 3 ignored" in report.summary()
    assert Event.objects.filter(type="referral.joined", customer=referrer).count() == 2


def test_importing_the_file_again_counts_nothing_more(referrer, frozen_clock, tmp_path):
    content = HEADER + "f-1,f1@example.se,Sam,k7qxm2pa9tbc\n"
    run(tmp_path, content)

    report = run(tmp_path, content)

    assert counts(report) == (0, 0, 1, 0)
    assert Referral.objects.count() == 1


def test_a_dry_run_records_no_referral(referrer, frozen_clock, tmp_path):
    report = run(tmp_path, HEADER + "f-1,f1@example.se,Sam,k7qxm2pa9tbc\n", dry_run=True)

    assert report.created == 1
    assert not Referral.objects.exists()


def test_a_nul_in_the_code_rejects_the_row_naming_the_column(referrer, frozen_clock, tmp_path):
    content = HEADER + "f-1,f1@example.se,Sam,Ab3\x00dE5fG7h\nf-2,f2@example.se,Kim,\n"

    report = run(tmp_path, content)

    assert counts(report) == (1, 0, 0, 1)
    assert rejects_of(tmp_path)[0]["reason"].startswith("referral_code:")
    assert not Referral.objects.exists()
