"""The segment rule language: every message a marketer can get, and each condition kind
matching exactly the right customers of a small hand-built population (SQLite and PostgreSQL)."""
import datetime as dt
from decimal import Decimal

import pytest

from campaigns.models import AttributeDefinition, Subscription, SurveyResponse
from campaigns.segmentation import MAX_DEPTH, RuleError, rule_errors, rule_parse
from campaigns.selectors.segments import segment_customers
from tests.factories import CustomerFactory, EventFactory, OrderFactory

UTC = dt.timezone.utc
ATTRS = {"shoe_size": ("number", "shoe size"), "birthday": ("date", "birthday"),
         "vip": ("boolean", "VIP"), "colour": ("text", "favourite colour")}


def only(errors: list[str]) -> str:
    assert len(errors) == 1, errors
    return errors[0]


# --- validation ----------------------------------------------------------------------------

class TestValidation:
    def test_a_good_rule_has_no_errors(self):
        rule = {"all": [
            {"field": "country", "op": "in", "value": ["SE", "NO"]},
            {"any": [{"field": "signed_up_at", "op": "in_last_days", "value": 30},
                     {"not": {"field": "event", "event_type": "purchase", "op": "did",
                              "window": {"last_days": 30}}}]},
            {"attribute": "shoe_size", "op": ">=", "value": 42},
            {"field": "total_spent", "op": ">=", "value": 500, "window": {"period": "this_quarter"}},
        ]}
        assert rule_errors(rule, attributes=ATTRS) == []

    def test_comparing_a_date_with_a_number_points_at_the_condition(self):
        rule = {"all": [{"field": "country", "op": "is", "value": "SE"},
                        {"any": [{"field": "tier", "op": "is", "value": "gold"},
                                 {"field": "signed_up_at", "op": "after", "value": 42}]}]}
        assert only(rule_errors(rule)) == (
            "Condition 2 in 'any' group 2: 'signed up' is a date; 42 is not a date "
            "(write it as YYYY-MM-DD)")

    def test_an_unknown_field_suggests_the_closest(self):
        message = only(rule_errors({"all": [{"field": "cuntry", "op": "is", "value": "SE"}]}))
        assert message == "Condition 1: there is no field \"cuntry\"; did you mean 'country'?"

    def test_an_unknown_attribute_lists_the_known_ones(self):
        message = only(rule_errors({"attribute": "shoesize", "op": ">", "value": 1},
                                   attributes=ATTRS))
        assert "there is no custom attribute \"shoesize\"" in message
        assert "birthday, colour, shoe_size, vip" in message

    def test_an_operator_that_does_not_fit_the_type_lists_those_that_do(self):
        message = only(rule_errors({"all": [{"field": "signed_up_at", "op": "contains",
                                             "value": "2026"}]}))
        assert message.startswith("Condition 1: 'signed up' is a date; 'contains' does not apply")
        assert "before, after, on, between" in message

    @pytest.mark.parametrize("condition, expected", [
        ({"field": "points_balance", "op": ">", "value": "many"},
         "'points balance' is a number; \"many\" is not a number"),
        ({"field": "order_count", "op": ">=", "value": 2.5}, "is a whole number; 2.5 is not"),
        ({"field": "rfm_recency", "op": "=", "value": 7},
         "'RFM recency' goes from 1 to 5; 7 is outside that"),
        ({"field": "marketing_consent", "op": "is", "value": "yes"},
         "'marketing consent' is yes or no; \"yes\" is neither"),
        ({"field": "lifecycle_stage", "op": "is", "value": "gold"},
         "'lifecycle stage' has no value \"gold\" (choose from: prospect, new, active"),
        ({"field": "country", "op": "in", "value": []}, "needs a list of one or more values"),
        ({"field": "country", "op": "is", "value": "Sweden"}, "not a two-letter country code"),
        ({"field": "time_zone", "op": "is", "value": "Mars/Olympus"}, "not a time zone name"),
        ({"field": "points_balance", "op": "between", "value": [10, 1]}, "put the smaller first"),
        ({"field": "points_balance", "op": "between", "value": 10}, "needs two values [from, to]"),
        ({"field": "signed_up_at", "op": "in_last_days", "value": 0}, "a whole number of days"),
        ({"field": "signed_up_at", "op": "on", "value": "2026-02-30"}, "is not a date"),
        ({"field": "country", "op": "is"}, "'country' 'is' needs a value"),
        ({"field": "country", "op": "is_empty", "value": "SE"}, "takes no value"),
        ({"field": "country", "value": "SE"}, "choose an operator for 'country'"),
        ({"op": "is", "value": "SE"}, "choose a field"),
        ({"field": "country", "op": "is", "vaule": "SE"}, "unknown key 'vaule'"),
        ({"field": "event", "op": "did"}, "say which event type"),
        ({"field": "signed_up_at", "op": "after", "value": "2026-01-01",
          "window": {"last_days": 9}}, "cannot take a time window"),
        ({"field": "order_count", "op": ">", "value": 1, "window": {"last_days": -1}},
         "is not a whole number of days"),
        ({"field": "order_count", "op": ">", "value": 1, "window": {"period": "fortnight"}},
         "is not a period"),
        ({"field": "order_count", "op": ">", "value": 1,
          "window": {"from": "2026-03-01", "to": "2026-01-01"}}, "ends (2026-01-01) before it starts"),
        ({"attribute": "birthday", "op": ">", "value": "1990-01-01"}, "'>' does not apply"),
        ({"field": "consent", "op": "given", "value": "spam"}, "'consent' has no value \"spam\""),
    ])
    def test_each_bad_value_gets_a_sentence(self, condition, expected):
        message = only(rule_errors({"all": [condition]}, attributes=ATTRS))
        assert message.startswith("Condition 1")
        assert expected in message

    def test_empty_rules_and_groups_are_refused(self):
        assert only(rule_errors({})) == "The rule: is empty: add at least one condition"
        assert only(rule_errors({"all": []})) == "The rule: is empty: add at least one condition"
        assert only(rule_errors({"all": [{"field": "tier", "op": "is_set"}, {"any": []}]})) == (
            "Group 2: this 'any' group is empty: add a condition or remove the group")

    def test_every_problem_is_reported_at_once(self):
        rule = {"any": [{"field": "nope", "op": "is", "value": 1},
                        {"all": [{"field": "tier", "op": "is", "value": 3}]}]}
        errors = rule_errors(rule)
        assert [e.split(":")[0] for e in errors] == ["Condition 1", "Condition 1 in 'all' group 2"]

    def test_malformed_structure(self):
        assert "not a condition or a group" in only(rule_errors({"all": ["country"]}))
        assert "exactly one key" in only(rule_errors({"all": [], "any": []}))
        assert "needs a list" in only(rule_errors({"any": {"field": "tier"}}))
        assert "not valid JSON" in only(rule_errors('{"all": ['))

    def test_nesting_is_limited(self):
        rule = {"field": "tier", "op": "is_set"}
        for _ in range(MAX_DEPTH + 1):
            rule = {"not": rule}
        assert "nested more than" in only(rule_errors(rule))

    def test_values_are_normalised(self):
        tree = rule_parse({"field": "country", "op": "in", "value": [" se", "no"]})
        assert tree.value == ("SE", "NO")
        with pytest.raises(RuleError) as caught:
            rule_parse({"field": "country", "op": "in", "value": [1]})
        assert caught.value.problems[0].path == ()


# --- matching ----------------------------------------------------------------------------

def matched(rule, now=None) -> set[str]:
    return set(segment_customers(rule, now=now).values_list("external_id", flat=True))


@pytest.fixture
def people(db, frozen_clock):
    now = frozen_clock.now
    ago = lambda **kw: now - dt.timedelta(**kw)  # noqa: E731
    se = CustomerFactory(external_id="se", country="SE", locale="sv", time_zone="Europe/Stockholm",
                         signed_up_at=ago(days=10), tier="gold", points_balance=1200,
                         marketing_consent=True, order_count=3, total_spent=Decimal("1500"),
                         first_order_at=ago(days=400), last_order_at=ago(days=5),
                         rfm_recency=5, rfm_frequency=4, rfm_monetary=5, lifecycle_stage="loyal",
                         attributes={"shoe_size": 43, "birthday": "1990-05-01", "vip": True,
                                     "colour": "Green"})
    no = CustomerFactory(external_id="no", country="NO", locale="nb", time_zone="Europe/Oslo",
                         signed_up_at=ago(days=100), points_balance=10, marketing_consent=True,
                         order_count=1, total_spent=Decimal("100"), first_order_at=ago(days=200),
                         last_order_at=ago(days=200), rfm_recency=1, lifecycle_stage="lapsed",
                         attributes={"shoe_size": "44", "birthday": "2001-12-24", "vip": False})
    dk = CustomerFactory(external_id="dk", country="DK", locale="da", time_zone="", tier="",
                         attributes={"shoe_size": 38.5, "birthday": "not a date"})
    for days, amount, status in ((5, 500, "placed"), (20, 600, "placed"), (30, 400, "refunded"),
                                 (400, 400, "placed")):
        OrderFactory(customer=se, placed_at=ago(days=days), amount=Decimal(amount), status=status)
    OrderFactory(customer=no, placed_at=ago(days=200), amount=Decimal("100"))
    EventFactory(customer=se, type="newsletter_click", occurred_at=ago(days=2))
    EventFactory(customer=se, type="newsletter_click", occurred_at=ago(days=3))
    EventFactory(customer=no, type="newsletter_click", occurred_at=ago(days=60))
    for attr in ATTRS.items():
        AttributeDefinition.objects.create(key=attr[0], type=attr[1][0], label=attr[1][1])
    return {"se": se, "no": no, "dk": dk}


def answer(customer, score, at):
    from tests.factories import JourneyStepFactory
    from campaigns.models import Enrollment, Message

    step = JourneyStepFactory()
    enrollment = Enrollment.objects.create(campaign=step.campaign, customer=customer,
                                           entry_key=f"s{score}{at:%s}", triggered_at=at)
    message = Message.objects.create(enrollment=enrollment, campaign=step.campaign, step=step,
                                     customer=customer, due_at=at, first_due_at=at)
    return SurveyResponse.objects.create(customer=customer, message=message, kind="nps",
                                         score=score, answered_at=at)


@pytest.mark.parametrize("condition, expected", [
    ({"field": "country", "op": "in", "value": ["SE", "NO"]}, {"se", "no"}),
    ({"field": "country", "op": "not_in", "value": ["SE", "NO"]}, {"dk"}),
    ({"field": "locale", "op": "is", "value": "nb"}, {"no"}),
    ({"field": "time_zone", "op": "starts_with", "value": "Europe/"}, {"se", "no"}),
    ({"field": "time_zone", "op": "is_empty"}, {"dk"}),
    ({"field": "tier", "op": "is", "value": "gold"}, {"se"}),
    ({"field": "tier", "op": "is_not", "value": "gold"}, {"no", "dk"}),
    ({"field": "points_balance", "op": "between", "value": [10, 1200]}, {"se", "no"}),
    ({"field": "points_balance", "op": ">", "value": 10}, {"se"}),
    ({"field": "marketing_consent", "op": "is", "value": False}, {"dk"}),
    ({"field": "signed_up_at", "op": "in_last_days", "value": 30}, {"se"}),
    ({"field": "signed_up_at", "op": "more_than_days_ago", "value": 90}, {"no"}),
    ({"field": "signed_up_at", "op": "is_empty"}, {"dk"}),
    ({"field": "signed_up_at", "op": "on", "value": "2026-02-20"}, {"se"}),
    ({"field": "signed_up_at", "op": "before", "value": "2026-02-20"}, {"no"}),
    ({"field": "signed_up_at", "op": "between", "value": ["2025-11-01", "2026-02-19"]}, {"no"}),
    ({"field": "order_count", "op": ">=", "value": 2}, {"se"}),
    ({"field": "order_count", "op": "=", "value": 0}, {"dk"}),
    ({"field": "total_spent", "op": "<", "value": 1000}, {"no", "dk"}),
    ({"field": "avg_order_value", "op": ">=", "value": 500}, {"se"}),
    ({"field": "avg_order_value", "op": "<", "value": 500}, {"no"}),
    ({"field": "first_order_at", "op": "more_than_days_ago", "value": 365}, {"se"}),
    ({"field": "last_order_at", "op": "in_last_days", "value": 30}, {"se"}),
    # Windowed: refunded orders do not count; customers without orders count as 0.
    ({"field": "order_count", "op": ">=", "value": 2, "window": {"last_days": 90}}, {"se"}),
    ({"field": "order_count", "op": "=", "value": 2, "window": {"last_days": 90}}, {"se"}),
    ({"field": "order_count", "op": "<", "value": 1, "window": {"last_days": 90}}, {"no", "dk"}),
    ({"field": "total_spent", "op": ">=", "value": 1100, "window": {"last_days": 90}}, {"se"}),
    ({"field": "total_spent", "op": ">=", "value": 1101, "window": {"last_days": 90}}, set()),
    ({"field": "total_spent", "op": "<=", "value": 100, "window": {"period": "this_year"}},
     {"no", "dk"}),
    ({"field": "total_spent", "op": ">=", "value": 1, "window": {"period": "last_year"}},
     {"se", "no"}),
    ({"field": "avg_order_value", "op": "=", "value": 550, "window": {"last_days": 90}}, {"se"}),
    ({"field": "avg_order_value", "op": "<", "value": 1, "window": {"last_days": 90}}, set()),
    ({"field": "order_count", "op": ">=", "value": 1,
      "window": {"from": "2025-08-01", "to": "2025-09-30"}}, {"no"}),
    ({"field": "event", "event_type": "newsletter_click", "op": "did"}, {"se", "no"}),
    ({"field": "event", "event_type": "newsletter_click", "op": "did_not",
      "window": {"last_days": 30}}, {"no", "dk"}),
    ({"field": "event", "event_type": "newsletter_click", "op": ">=", "value": 2,
      "window": {"last_days": 7}}, {"se"}),
    ({"field": "event", "event_type": "newsletter_click", "op": "<", "value": 2}, {"no", "dk"}),
    ({"field": "rfm_recency", "op": ">=", "value": 4}, {"se"}),
    ({"field": "rfm_recency", "op": "is_empty"}, {"dk"}),
    ({"field": "rfm_recency", "op": "!=", "value": 5}, {"no", "dk"}),
    ({"field": "lifecycle_stage", "op": "in", "value": ["loyal", "lapsed"]}, {"se", "no"}),
    ({"field": "lifecycle_stage", "op": "is_empty"}, {"dk"}),
    # Custom attributes: numbers as numbers (a text "44" is not a number), dates as dates.
    ({"attribute": "shoe_size", "op": ">=", "value": 42}, {"se"}),
    ({"attribute": "shoe_size", "op": "<", "value": 40}, {"dk"}),
    ({"attribute": "shoe_size", "op": "between", "value": [38.5, 43]}, {"se", "dk"}),
    ({"attribute": "shoe_size", "op": "is_empty"}, {"no"}),
    ({"attribute": "birthday", "op": "before", "value": "2000-01-01"}, {"se"}),
    ({"attribute": "birthday", "op": "after", "value": "1990-05-01"}, {"no"}),
    ({"attribute": "birthday", "op": "more_than_days_ago", "value": 365}, {"se", "no"}),
    ({"attribute": "birthday", "op": "is_empty"}, {"dk"}),
    ({"attribute": "vip", "op": "is", "value": True}, {"se"}),
    ({"attribute": "vip", "op": "is", "value": False}, {"no"}),
    ({"attribute": "colour", "op": "contains", "value": "gre"}, {"se"}),
    ({"attribute": "colour", "op": "is_not", "value": "Green"}, {"no", "dk"}),
])
def test_each_condition_matches_exactly_the_right_customers(people, condition, expected):
    assert matched(condition) == expected
    # and 'not' is the exact complement
    assert matched({"not": condition}) == {"se", "no", "dk"} - expected


def test_a_big_number_attribute_is_not_compared_as_text(people):
    people["dk"].attributes = {"shoe_size": 100}
    people["dk"].save()
    assert matched({"attribute": "shoe_size", "op": ">", "value": 9}) == {"se", "dk"}


def test_nested_all_any_not(people):
    rule = {"all": [
        {"any": [{"field": "country", "op": "is", "value": "NO"},
                 {"field": "country", "op": "is", "value": "DK"}]},
        {"not": {"all": [{"field": "marketing_consent", "op": "is", "value": True},
                         {"not": {"field": "rfm_recency", "op": "is_set"}}]}},
    ]}
    assert matched(rule) == {"no", "dk"}
    assert matched({"any": [rule, {"field": "tier", "op": "is", "value": "gold"}]}) == {"se", "no", "dk"}


def test_relative_dates_follow_the_clock(people, frozen_clock):
    rule = {"field": "signed_up_at", "op": "in_last_days", "value": 30}
    assert matched(rule) == {"se"}
    frozen_clock.advance(days=21)
    assert matched(rule) == set()
    window = {"field": "order_count", "op": ">=", "value": 2, "window": {"last_days": 30}}
    frozen_clock.advance(days=-21)
    assert matched(window) == {"se"}
    frozen_clock.advance(days=11)  # the order of 20 days ago is now 31 days old
    assert matched(window) == set()


def test_periods_are_calendar_periods_in_the_sites_zone(people, frozen_clock, settings):
    rule = {"field": "total_spent", "op": ">", "value": 0, "window": {"period": "this_month"}}
    assert matched(rule) == set()  # the orders of 5 and 20 days ago were in February
    frozen_clock.set(dt.datetime(2026, 2, 28, 12, tzinfo=UTC))
    assert matched(rule) == {"se"}
    # 23:30 UTC on 28 February is already March in Stockholm.
    frozen_clock.set(dt.datetime(2026, 3, 2, 9, tzinfo=UTC))
    OrderFactory(customer=people["dk"], placed_at=dt.datetime(2026, 2, 28, 23, 30, tzinfo=UTC))
    assert matched(rule) == set()
    settings.TIME_ZONE = "Europe/Stockholm"
    assert matched(rule) == {"dk"}


def test_latest_nps_answer_decides_score_and_group(people, frozen_clock):
    now = frozen_clock.now
    answer(people["se"], 3, now - dt.timedelta(days=40))
    answer(people["se"], 10, now - dt.timedelta(days=2))
    answer(people["no"], 7, now - dt.timedelta(days=1))
    answer(people["no"], 10, now - dt.timedelta(days=30))
    assert matched({"field": "nps_group", "op": "is", "value": "promoter"}) == {"se"}
    assert matched({"field": "nps_group", "op": "in", "value": ["passive", "detractor"]}) == {"no"}
    assert matched({"field": "nps_score", "op": "<=", "value": 7}) == {"no"}
    assert matched({"field": "nps_score", "op": "is_empty"}) == {"dk"}
    assert matched({"not": {"field": "nps_group", "op": "is", "value": "promoter"}}) == {"no", "dk"}


def test_consent_per_topic(people):
    Subscription.objects.create(customer=people["no"], topic="offers", subscribed=False)
    Subscription.objects.create(customer=people["se"], topic="offers", subscribed=True)
    assert matched({"field": "consent", "op": "given", "value": "offers"}) == {"se"}
    assert matched({"field": "consent", "op": "given", "value": "surveys"}) == {"se", "no"}
    assert matched({"field": "consent", "op": "not_given", "value": "marketing"}) == {"dk"}


def test_erased_customers_are_never_in_a_segment(people, frozen_clock):
    people["dk"].erased_at = frozen_clock.now
    people["dk"].save()
    assert matched({"field": "country", "op": "is", "value": "DK"}) == set()


def test_the_compiled_rule_is_one_sql_statement(people, django_assert_num_queries):
    rule = {"all": [
        {"field": "country", "op": "is", "value": "SE"},
        {"field": "order_count", "op": ">=", "value": 2, "window": {"last_days": 90}},
        {"field": "event", "event_type": "newsletter_click", "op": "did"},
        {"field": "nps_group", "op": "is_empty"},
        {"field": "consent", "op": "given", "value": "offers"},
        {"attribute": "shoe_size", "op": ">=", "value": 42},
    ]}
    customers = segment_customers(rule)
    with django_assert_num_queries(1):
        assert customers.count() == 1
