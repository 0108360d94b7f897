"""How long each table keeps personal data: the one declaration the nightly purge reads.

Pure: no queries. `services/retention.py` applies it; README "Retention" lists it. Every
model of the app is either declared here or named in NO_PERSONAL_DATA (a test checks), so
a new table cannot hold personal data without a decision about how long.
"""
import dataclasses
import datetime as dt

from django.conf import settings


class Action:
    DELETE = "delete"  # delete the rows older than the period
    ANONYMISE = "anonymise"  # blank the listed fields of rows older than the period
    ERASE_INACTIVE = "erase_inactive"  # anonymise customers inactive for the period
    WITH_CUSTOMER = "with_customer"  # kept while the customer is; anonymised on erasure
    KEEP = "keep"  # kept on purpose (see `why`)


@dataclasses.dataclass(frozen=True)
class Retention:
    name: str  # the key in RETENTION and in the RETENTION_DAYS setting
    model: str  # "app_label.ModelName"
    days: int | None
    action: str
    why: str
    field: str = ""  # the time the period runs from
    blank: tuple[tuple[str, object], ...] = ()  # ANONYMISE: (field, blank value) pairs


RETENTION: dict[str, Retention] = {
    r.name: r
    for r in (
        Retention("customers", "campaigns.Customer", 3 * 365, Action.ERASE_INACTIVE, field="created_at",
                  why="Customers with no order ever and no event or profile update for the period are "
                      "anonymised like an erasure (their address stays suppressed only if "
                      "they had said no to marketing)."),
        Retention("events", "campaigns.Event", 3 * 365, Action.DELETE, field="occurred_at",
                  why="Behavioural events feed segments and triggers; three years covers "
                      "every window the segments offer."),
        Retention("event_lines", "campaigns.EventLine", 3 * 365, Action.DELETE, field="occurred_at",
                  why="The products in a cart or viewed: as long as the events they belong to."),
        Retention("message_events", "campaigns.MessageEvent", 180, Action.DELETE, field="received_at",
                  why="Raw provider events (addresses, IPs, user agents of opens and clicks); "
                      "their outcome is already on the message."),
        Retention("message_log", "campaigns.MessageLog", 2 * 365, Action.DELETE, field="at",
                  why="Why each message went or did not: support questions come within months."),
        Retention("messages", "campaigns.Message", 2 * 365, Action.ANONYMISE, field="created_at",
                  blank=(("subject", ""), ("provider_message_id", "")),
                  why="The personalised subject and the provider's id go; the row stays so "
                      "a step is never sent twice and campaign numbers stay right."),
        Retention("survey_comments", "campaigns.SurveyResponse", 2 * 365, Action.ANONYMISE, field="answered_at",
                  blank=(("comment", ""),),
                  why="Free-text comments go; the scores stay for NPS / CSAT trends."),
        Retention("imports", "campaigns.ImportJob", 30, Action.DELETE, field="created_at",
                  why="Uploaded CSV files and their rejects files hold whole customer lists."),
        Retention("forecasts", "campaigns.ForecastJob", 30, Action.DELETE, field="created_at",
                  why="A forecast's answer names a sample of customers; it is a planning aid "
                      "for the days around a launch, not a record."),
        Retention("privacy_requests", "campaigns.PrivacyRequest", 5 * 365, Action.DELETE, field="requested_at",
                  why="Proof that export and erasure requests were answered; holds no "
                      "personal data."),
        Retention("subscription_requests", "campaigns.SubscriptionRequest", 30, Action.DELETE,
                  field="requested_at",
                  why="Double opt-in requests hold the address as typed; a request expires "
                      "unconfirmed within days, and a confirmed one's proof is in the consent log."),
        Retention("erasure_requests", "campaigns.ErasureRequest", 5 * 365, Action.DELETE,
                  field="requested_at",
                  why="Proof that a deletion request from the preference centre was received "
                      "and handled (its IP address and user agent are cleared by the erasure)."),
        Retention("referral_clicks", "campaigns.ReferralClick", 2 * 365, Action.DELETE,
                  field="clicked_at",
                  why="Visits of referral links (the time and the code only) count in the "
                      "referral funnel; closed months are kept in the snapshots."),
        Retention("suppressions", "campaigns.Suppression", None, Action.KEEP,
                  why="Keyed hashes of addresses that must never be mailed: kept so an "
                      "objection, erasure, bounce or complaint is honoured for good (GD-11)."),
        *(Retention(name, f"campaigns.{model}", None, Action.WITH_CUSTOMER,
                    why="Kept while the customer is; anonymised or removed when the customer "
                        "is erased (by request or by the Customer rule above).")
          for name, model in (("consent_log", "ConsentEvent"), ("subscriptions", "Subscription"),
                              ("orders", "Order"), ("order_lines", "OrderLine"),
                              ("enrollments", "Enrollment"),
                              ("points_ledger", "PointsEntry"), ("coupons", "Coupon"),
                              ("segment_memberships", "SegmentMembership"),
                              ("referral_codes", "ReferralCode"), ("referrals", "Referral"))),
    )
}

# Models of the app that hold no personal data (configuration, content, system facts).
NO_PERSONAL_DATA = {
    "campaigns.Heartbeat", "campaigns.DataVersion",
    "campaigns.RateLimitBucket",
    "campaigns.ApiKey", "campaigns.AttributeDefinition", "campaigns.Campaign",
    "campaigns.CountryPolicy", "campaigns.EarningRule", "campaigns.Tier",
    "campaigns.FrequencyPolicy", "campaigns.JourneyStep", "campaigns.MessageTemplate",
    "campaigns.MetricSnapshot", "campaigns.MetricSnapshotState",
    "campaigns.Segment", "campaigns.StepVariant", "campaigns.SurveyQuestion", "campaigns.TemplateTranslation",
    "campaigns.EmailLayout", "campaigns.ReferralProgram",
    # The catalogue and the product lists drawn from all orders at once.
    "campaigns.Product", "campaigns.ProductPair", "campaigns.TopSeller",
    # The audit trail (campaigns/audit.py): copies of configuration and content rows, with
    # the staff user who changed them; no customer's data.
    "campaigns.HistoricalCampaign", "campaigns.HistoricalEmailLayout",
    "campaigns.HistoricalFrequencyPolicy", "campaigns.HistoricalJourneyStep",
    "campaigns.HistoricalMessageTemplate", "campaigns.HistoricalStepVariant",
    "campaigns.HistoricalTemplateTranslation", "campaigns.HistoricalReferralProgram",
}


def retention_days(name: str) -> int | None:
    """The period of RETENTION[name] in days, after the RETENTION_DAYS setting's override.

    Raises ValueError for an override that is not a positive whole number or "none".
    """
    override = settings.RETENTION_DAYS.get(name)
    if override is None:
        return RETENTION[name].days
    if str(override).strip().lower() == "none":
        return None
    try:
        days = int(override)
    except ValueError:
        days = 0
    if days <= 0:
        raise ValueError(f"RETENTION_DAYS {name}={override}: give a number of days above 0")
    return days


def retention_cutoff(name: str, *, now: dt.datetime) -> dt.datetime | None:
    """Rows of RETENTION[name] older than this are past their period (None: never)."""
    days = retention_days(name)
    return None if days is None else now - dt.timedelta(days=days)


def retention_check() -> list[str]:
    """Every problem with the overrides: unknown names, bad values."""
    problems = []
    for name in settings.RETENTION_DAYS:
        if name not in RETENTION:
            problems.append(f"RETENTION_DAYS names {name!r}; known: {', '.join(sorted(RETENTION))}")
            continue
        if RETENTION[name].action in (Action.KEEP, Action.WITH_CUSTOMER):
            problems.append(f"RETENTION_DAYS {name}: this table has no period of its own "
                            f"({RETENTION[name].why})")
            continue
        try:
            retention_days(name)
        except ValueError as exc:
            problems.append(str(exc))
    return problems
