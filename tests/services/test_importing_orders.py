"""Bulk CSV import of orders: order facts refreshed set-based, no journeys for old purchases."""
import datetime as dt
import io
from decimal import Decimal

import pytest

from campaigns.models import Enrollment, Event, Order
from campaigns.services.customers import customers_order_facts_refresh
from campaigns.services.events import events_ingest
from campaigns.services.imports import ImportRefused, RejectsWriter, import_run
from campaigns.services.scheduling import scheduler_tick
from tests.factories import CampaignFactory, CustomerFactory, JourneyStepFactory, OrderFactory
from tests.services.test_importing import counts, rejects_of

pytestmark = pytest.mark.django_db

UTC = dt.timezone.utc
HEADER = "external_id,customer_external_id,amount,currency,placed_at\n"
ORDERS = HEADER + (
    "o-1,c-1,499.00,SEK,2025-01-10T10:00:00Z\n"
    "o-2,c-1,100.50,SEK,2025-03-01T10:00:00+01:00\n"
    "o-3,c-2,250,NOK,2024-12-24T18:00:00Z\n"
)


def run(tmp_path, content, *, dry_run=False, chunk_rows=2):
    return import_run(kind="orders", stream=io.BytesIO(content.encode()),
                      rejects=RejectsWriter(tmp_path / "rejects.csv"), dry_run=dry_run,
                      chunk_rows=chunk_rows)


@pytest.fixture
def customers(db):
    return CustomerFactory(external_id="c-1"), CustomerFactory(external_id="c-2")


def facts(customer):
    customer.refresh_from_db()
    return (customer.order_count, customer.total_spent, customer.first_order_at,
            customer.last_order_at)


def test_orders_are_created_and_the_customers_order_facts_refreshed(
    frozen_clock, tmp_path, customers
):
    report = run(tmp_path, ORDERS)

    assert counts(report) == (3, 0, 0, 0) and report.aggregates_refreshed == 2
    assert facts(customers[0]) == (2, Decimal("599.50"), dt.datetime(2025, 1, 10, 10, tzinfo=UTC),
                                   dt.datetime(2025, 3, 1, 9, tzinfo=UTC))
    assert facts(customers[1])[:2] == (1, Decimal("250.00"))
    assert Order.objects.get(external_id="o-1").status == Order.Status.PLACED


def test_importing_orders_again_changes_nothing(frozen_clock, tmp_path, customers):
    run(tmp_path, ORDERS)
    before = list(Order.objects.order_by("id").values())

    report = run(tmp_path, ORDERS)

    assert counts(report) == (0, 0, 3, 0) and report.aggregates_refreshed == 0
    assert list(Order.objects.order_by("id").values()) == before


def test_a_changed_order_is_updated_and_a_cancelled_one_stops_counting(
    frozen_clock, tmp_path, customers
):
    run(tmp_path, ORDERS)

    report = run(tmp_path, HEADER.strip() + ",status\n"
                 "o-1,c-1,499.00,SEK,2025-01-10T10:00:00Z,\n"
                 "o-2,c-1,100.50,SEK,2025-03-01T10:00:00+01:00,cancelled\n"
                 "o-3,c-2,300,NOK,2024-12-24T18:00:00Z,placed\n")

    assert counts(report) == (0, 2, 1, 0)
    assert facts(customers[0])[:2] == (1, Decimal("499.00"))
    assert facts(customers[0])[3] == dt.datetime(2025, 1, 10, 10, tzinfo=UTC)
    assert facts(customers[1])[:2] == (1, Decimal("300.00"))


def test_imported_orders_add_to_orders_from_the_api_without_counting_twice(
    frozen_clock, tmp_path, customers
):
    events_ingest(events=[{
        "event_id": "e-1", "type": "purchase", "occurred_at": frozen_clock.now,
        "customer": {"external_id": "c-1"},
        "order": {"external_id": "o-live", "amount": Decimal("50"), "currency": "SEK"},
    }])

    run(tmp_path, ORDERS)

    assert facts(customers[0])[:2] == (3, Decimal("649.50"))
    assert facts(customers[0])[3] == frozen_clock.now


def test_imported_orders_leave_the_facts_a_full_recount_gives(frozen_clock, tmp_path, customers):
    # New orders are added to the stored facts; a changed order has them recounted.
    events_ingest(events=[{
        "event_id": "e-1", "type": "purchase", "occurred_at": frozen_clock.now,
        "customer": {"external_id": "c-1"},
        "order": {"external_id": "o-live", "amount": Decimal("50"), "currency": "SEK"},
    }])
    with_status = HEADER.strip() + ",status\n"
    run(tmp_path, with_status + "o-1,c-1,10,SEK,2025-01-10T10:00:00Z,placed\n"
                                "o-2,c-1,20,SEK,2024-01-10T10:00:00Z,cancelled\n"
                                "o-3,c-1,30,SEK,2023-01-10T10:00:00Z,refunded\n"
                                "o-4,c-2,40,SEK,2025-02-10T10:00:00Z,cancelled\n", chunk_rows=10)
    imported = [facts(c) for c in customers]

    run(tmp_path, with_status + "o-1,c-1,15,SEK,2025-01-10T10:00:00Z,placed\n"
                                "o-5,c-1,5,SEK,2022-01-10T10:00:00Z,placed\n"
                                "o-6,c-2,1,SEK,2025-03-10T10:00:00Z,\n", chunk_rows=10)
    reimported = [facts(c) for c in customers]
    customers_order_facts_refresh(customer_ids=[c.pk for c in customers])

    assert imported[0] == (3, Decimal("90.00"), dt.datetime(2023, 1, 10, 10, tzinfo=UTC),
                           frozen_clock.now)
    assert imported[1] == (0, Decimal("0.00"), None, None)
    assert reimported == [facts(c) for c in customers]
    assert reimported[0][:3] == (4, Decimal("100.00"), dt.datetime(2022, 1, 10, 10, tzinfo=UTC))
    assert reimported[1][:2] == (1, Decimal("1.00"))


def test_bad_order_rows_are_rejected_with_reasons(frozen_clock, tmp_path, customers):
    OrderFactory(external_id="o-taken", customer=customers[1])
    content = HEADER + (
        "o-1,c-404,10,SEK,2025-01-01T00:00:00Z\n"      # 2 unknown customer
        "o-2,c-1,ten,SEK,2025-01-01T00:00:00Z\n"       # 3 bad number
        "o-3,c-1,10.123,SEK,2025-01-01T00:00:00Z\n"    # 4 three decimals
        "o-4,c-1,-5,SEK,2025-01-01T00:00:00Z\n"        # 5 not positive
        "o-5,c-1,10,sek,2025-01-01T00:00:00Z\n"        # 6 currency
        "o-6,c-1,10,SEK,yesterday\n"                   # 7 bad date
        "o-taken,c-1,10,SEK,2025-01-01T00:00:00Z\n"    # 8 another customer's order
        "o-7,c-1,10,SEK,2025-01-01T00:00:00Z\n"        # 9 good
        "o-7,c-1,10,SEK,2025-01-01T00:00:00Z\n"        # 10 duplicate
        "o-8,,10,SEK,2025-01-01T00:00:00Z\n"           # 11 no customer
    )

    report = run(tmp_path, content, chunk_rows=4)

    assert counts(report) == (1, 0, 0, 9)
    reasons = {r["line"]: r["reason"] for r in rejects_of(tmp_path)}
    assert reasons["2"] == "customer_external_id: unknown customer; import the customers first"
    assert reasons["3"].startswith("amount: Input should be a valid decimal")
    assert reasons["4"].startswith("amount: ") and "2 decimal places" in reasons["4"]
    assert reasons["5"].startswith("amount: Input should be greater than 0")
    assert reasons["6"].startswith("currency: String should match pattern")
    assert reasons["7"].startswith("placed_at: Input should be a valid datetime")
    assert reasons["8"] == "external_id: This order is recorded for another customer."
    assert reasons["10"].startswith("external_id: duplicate in the file (first on line 9)")
    assert reasons["11"] == "customer_external_id: This field is required."


def test_an_orders_file_with_a_missing_or_unknown_column_is_refused(frozen_clock, tmp_path,
                                                                     customers):
    with pytest.raises(ImportRefused, match="Missing column.*placed_at.*first line must name"):
        run(tmp_path, "external_id,customer_external_id,amount,currency\no-1,c-1,1,SEK\n")
    with pytest.raises(ImportRefused, match="Unknown column.*coupon"):
        run(tmp_path, HEADER.strip() + ",coupon\n")
    assert not Order.objects.exists()


def test_dry_run_of_orders_writes_nothing(frozen_clock, tmp_path, customers):
    report = run(tmp_path, ORDERS, dry_run=True)

    assert counts(report) == (3, 0, 0, 0) and report.aggregates_refreshed == 2
    assert not Order.objects.exists()
    assert facts(customers[0])[0] == 0


def test_imported_orders_start_no_journey(frozen_clock, tmp_path, customers):
    """Historic purchases must not flood customers with surveys or bonuses."""
    survey = CampaignFactory(trigger_event_type="purchase", entry_key="order")
    JourneyStepFactory(campaign=survey)
    bonus = CampaignFactory(trigger_event_type="purchase", trigger_config={"nth_order": 2})
    JourneyStepFactory(campaign=bonus)
    winback = CampaignFactory(trigger="inactivity", trigger_event_type="",
                              trigger_config={"days": 90})
    JourneyStepFactory(campaign=winback)
    scheduler_tick(now=frozen_clock.now)

    run(tmp_path, ORDERS)
    scheduler_tick(now=frozen_clock.advance(minutes=1))

    assert not Event.objects.exists()
    assert not Enrollment.objects.exists()
