"""Request and response schemas of the ingestion API: the contract with the shop."""

import datetime as dt
import functools
import re
import zoneinfo
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from ninja import Schema
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StringConstraints,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.networks import validate_email as _email_validate_fully
from pydantic_core import PydanticCustomError

from campaigns import clock
from campaigns.models import Topic

BATCH_MAX_EVENTS = 1000
# How far ahead of the clock an occurred_at may lie: room for skewed clocks only.
FUTURE_TOLERANCE = dt.timedelta(days=1)


@functools.cache
def _time_zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _require_iso_string(value: Any) -> Any:
    # Numbers would be read as Unix timestamps; the contract is ISO 8601 text only.
    if not isinstance(value, (str, dt.datetime)):
        raise PydanticCustomError(
            "datetime_type",
            "Give an ISO 8601 date-time string with a time zone, "
            "e.g. 2026-03-02T09:30:00Z.",
        )
    return value


def _aware_and_not_far_ahead(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError(
            "timezone_aware",
            "The date-time has no time zone. Add one (e.g. 2026-03-02T09:30:00Z or "
            "2026-03-02T10:30:00+01:00): a time without it is ambiguous.",
        )
    if value > clock.now() + FUTURE_TOLERANCE:
        raise PydanticCustomError(
            "datetime_too_far_ahead",
            "The date-time is more than 1 day in the future; check the sender's clock "
            "and time zone.",
        )
    return value.astimezone(dt.timezone.utc)


def _known_time_zone(value: str | None) -> str | None:
    if value is not None and value not in _time_zone_names():
        raise PydanticCustomError(
            "time_zone_unknown",
            "Unknown time zone. Give an IANA name such as Europe/Stockholm.",
        )
    return value


def _normalise_locale(value: Any) -> Any:
    # Shops send sv_SE, sv-se or SV; all mean sv-SE.
    if isinstance(value, str):
        language, _, region = value.strip().replace("_", "-").partition("-")
        return f"{language.lower()}-{region.upper()}" if region else language.lower()
    return value


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _scalars_only(value: dict[str, Any] | None) -> dict[str, Any] | None:
    for key, item in (value or {}).items():
        if not 1 <= len(key) <= 64:
            raise PydanticCustomError(
                "attribute_key", "Attribute names must be 1 to 64 characters long."
            )
        if item is not None and not isinstance(item, (str, int, float, bool)):
            raise PydanticCustomError(
                "attribute_scalar",
                "Attribute values must be strings, numbers, booleans or null (which "
                "removes the attribute), not objects or lists.",
            )
    return value


# An address of the everyday shape: an ASCII dot-atom local part (a subset of what
# email-validator accepts unchanged) and a domain of ASCII letters, digits, dots and hyphens.
_EVERYDAY_EMAIL = re.compile(r"([A-Za-z0-9_+\-]+(?:\.[A-Za-z0-9_+\-]+)*)@([A-Za-z0-9.\-]+)")
_EMAIL_MAX_BYTES = 254  # email-validator's limit on each form of the whole address


@functools.lru_cache(maxsize=4096)
def _email_domain_checked(domain: str) -> tuple[str, str] | None:
    """(normalised, IDNA ASCII) form of a domain email-validator accepts, else None.

    The domain's checks (IDNA, label rules, TLD) do not depend on the local part, so they
    are made once per domain, by email-validator itself, through a minimal address.
    """
    import email_validator

    try:
        checked = email_validator.validate_email(f"a@{domain}", check_deliverability=False)
    except email_validator.EmailNotValidError:
        return None
    return checked.domain, checked.ascii_domain


@functools.cache
def _case_insensitive_mailboxes() -> frozenset[str]:
    from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

    return frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)


def email_normalised(value: str) -> str:
    """The API's email rule: pydantic's EmailStr verdict and normalised address.

    Everyday addresses (see `_EVERYDAY_EMAIL`) on a domain already checked skip the
    address parser: their local part is returned unchanged by it, so the result is the
    local part, "@" and the domain's cached normal form. Every other address (quoted,
    internationalised local part, display name, role mailboxes that get lower-cased,
    bad domain, too long) goes through pydantic's own check, errors included.
    """
    match = _EVERYDAY_EMAIL.fullmatch(value)
    if match is not None:
        local, domain = match.groups()
        checked = _email_domain_checked(domain)
        if (
            checked is not None
            and local.lower() not in _case_insensitive_mailboxes()
            and len(value) <= _EMAIL_MAX_BYTES
            and len(local) + 1 + max(len(checked[0].encode()), len(checked[1]))
            <= _EMAIL_MAX_BYTES
        ):
            return f"{local}@{checked[0]}"
    return _email_validate_fully(value)[1]


# Same validation, errors and JSON schema as pydantic's EmailStr, faster (see above).
Email = Annotated[
    str,
    AfterValidator(email_normalised),
    WithJsonSchema({"type": "string", "format": "email"}),
]

AwareDateTime = Annotated[
    dt.datetime,
    BeforeValidator(_require_iso_string),
    AfterValidator(_aware_and_not_far_ahead),
]
ExternalId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]

ConsentIn = create_model(
    "ConsentIn",
    __config__=ConfigDict(extra="forbid"),
    __doc__=(
        "The customer's answer per topic: true grants, false withdraws, a topic left "
        "out keeps its current state. `marketing` is the global switch every "
        "marketing email needs."
    ),
    **{
        topic.value: (StrictBool | None, Field(default=None, description=topic.label))
        for topic in Topic
    },
)


class InputSchema(Schema):
    """A request body's schema, validated once.

    ninja's Schema validates a model with `extra="forbid"` twice, at every level of
    nesting (once as given, once through its ORM attribute getter): an event's customer
    four times, 40 % of a batch's time in the API. A request body is plain JSON, never an
    ORM object, so once is enough.
    """

    @model_validator(mode="wrap")
    @classmethod
    def _run_root_validator(cls, values: Any, handler, info: ValidationInfo) -> Any:
        return handler(values)


class CustomerIn(InputSchema):
    """A customer, matched by `external_id` (the shop's id) and created when new.

    Fields left out keep their stored value; `null` clears an optional profile field.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "external_id": "c-42",
                "email": "astrid@example.se",
                "first_name": "Astrid",
                "locale": "sv",
                "time_zone": "Europe/Stockholm",
                "country": "SE",
                "consent": {"marketing": True},
            }
        },
    )

    external_id: ExternalId = Field(
        description="The shop's id of the customer (1-100 chars)."
    )
    email: Email | None = Field(
        default=None,
        description="Required when the customer is new. Checked for syntax, not "
        "delivery.",
    )
    first_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    last_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    locale: (
        Annotated[
            str,
            StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$"),
            BeforeValidator(_normalise_locale),
        ]
        | None
    ) = Field(
        default=None, description="Language, optionally with region: sv, nb, en, sv-SE."
    )
    time_zone: Annotated[str, AfterValidator(_known_time_zone)] | None = Field(
        default=None, description="IANA time zone name, e.g. Europe/Stockholm."
    )
    country: (
        Annotated[
            str, StringConstraints(pattern=r"^[A-Z]{2}$"), BeforeValidator(_upper)
        ]
        | None
    ) = Field(default=None, description="ISO 3166-1 alpha-2 code, e.g. SE.")
    signed_up_at: AwareDateTime | None = Field(
        default=None, description="ISO 8601 with a time zone."
    )
    consent: ConsentIn | None = Field(  # type: ignore[valid-type]
        default=None, description="Consent answers; recorded with source `api`."
    )
    email_verified: StrictBool | None = Field(
        default=None,
        description="Whether the shop verified the address (double opt-in). `false`: "
        "a consent `true` sent with it waits until the customer confirms it through "
        "an email we send (no marketing meanwhile); a `false` counts at once.",
    )
    opt_out_offered: StrictBool | None = Field(
        default=None,
        description="`true`: the address was collected at a sale with a clear, free "
        "opt-out offered that the customer did not take (the existing-customer "
        "exception's condition; never consent by itself).",
    )
    wording_version: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="Version of the consent text the customer saw."
    )
    attributes: Annotated[dict[str, Any], AfterValidator(_scalars_only)] | None = Field(
        default=None,
        description="Extra facts as an object of scalars, merged into the stored ones; "
        "a null value removes that attribute.",
    )

    @field_validator("email")
    @classmethod
    def _email_not_null(cls, value: str | None) -> str:
        if value is None:
            raise PydanticCustomError(
                "email_null",
                "The email cannot be cleared; leave the field out to keep it.",
            )
        return value


class OrderIn(InputSchema):
    """The order of a purchase, matched by `external_id`; recorded once."""

    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId = Field(description="The shop's order id (1-100 chars).")
    amount: Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)] = Field(
        description="Greater than 0, at most 2 decimals; send it as a string, "
        'e.g. "499.00".'
    )
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(
        description="ISO 4217 code in capitals, e.g. SEK."
    )


class EventIn(InputSchema):
    """Something the customer did, with the customer it concerns."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "event_id": "shop-124",
                "type": "purchase",
                "occurred_at": "2026-03-02T09:45:00Z",
                "customer": {"external_id": "c-42"},
                "order": {"external_id": "o-9", "amount": "499.00", "currency": "SEK"},
            }
        },
    )

    event_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = (
        Field(
            default=None,
            description="Your idempotency key (recommended): an event_id already "
            "stored makes the post a no-op, reported as a duplicate.",
        )
    )
    type: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")] = (
        Field(description="signup, purchase, refund or your own, e.g. wishlist.added.")
    )
    occurred_at: AwareDateTime = Field(
        description="When it happened: ISO 8601 with a time zone; past is fine, at "
        "most 1 day ahead."
    )
    customer: CustomerIn
    order: OrderIn | None = Field(
        default=None,
        validate_default=True,
        description="Required on purchase events and accepted only there.",
    )
    properties: dict[str, Any] = Field(
        default_factory=dict, description="Free-form details of the event."
    )

    @field_validator("order")
    @classmethod
    def _order_only_and_always_on_purchases(
        cls, value: OrderIn | None, info: ValidationInfo
    ):
        event_type = info.data.get("type")
        if event_type == "purchase" and value is None:
            raise PydanticCustomError(
                "order_missing", "A purchase event needs an order."
            )
        if event_type is not None and event_type != "purchase" and value is not None:
            raise PydanticCustomError(
                "order_unexpected",
                "Only purchase events carry an order; put other references in "
                "properties.",
            )
        return value


def _single_or_batch(value: Any) -> str:
    return "batch" if isinstance(value, list) else "event"


# One event object, or a list of 1 to 1,000 of them. The tag makes validation errors say
# which shape was meant instead of reporting a failure for both.
EventsPayload = Annotated[
    Union[
        Annotated[EventIn, Tag("event")],
        Annotated[
            list[EventIn],
            Field(min_length=1, max_length=BATCH_MAX_EVENTS),
            Tag("batch"),
        ],
    ],
    Discriminator(_single_or_batch),
]


class EventResultOut(Schema):
    index: int = Field(
        description="Position in the posted list (0 for a single event)."
    )
    event_id: str | None
    status: Literal["created", "duplicate"]


class EventsOut(Schema):
    accepted: int = Field(description="Events stored by this request.")
    duplicates: int = Field(description="Events whose event_id was already stored.")
    results: list[EventResultOut]


class CustomerOut(Schema):
    external_id: str
    created: bool


class ErrorOut(Schema):
    index: int | None = Field(
        default=None,
        description="Position of the bad item in a batch; absent otherwise.",
    )
    field: str = Field(
        description='Dotted path of the bad field, e.g. "customer.email"; empty '
        "when the problem is the request as a whole."
    )
    message: str


class ErrorsOut(Schema):
    errors: list[ErrorOut]


def error_field_path(loc: tuple | list) -> tuple[int | None, str]:
    """Split an error location below the body into (batch index, dotted path)."""
    index = None
    parts = list(loc)
    if parts[:1] == ["batch"]:
        parts = parts[1:]
        if parts and isinstance(parts[0], int):
            index, parts = parts[0], parts[1:]
    elif parts[:1] == ["event"]:
        parts = parts[1:]
    return index, ".".join(str(part) for part in parts)


def error_message(error_type: str, field: str, message: str) -> str:
    """A message for an integrator: ours where pydantic's wording is unclear."""
    if error_type == "missing":
        return "This field is required." if field else "The body is empty; send JSON."
    if error_type in ("model_type", "model_attributes_type", "dict_type"):
        return "Expected a JSON object here."
    if error_type == "extra_forbidden":
        return "Unknown field; check its spelling against the API documentation."
    if not field and error_type == "too_short":
        return "The list is empty; send at least 1 event."
    if not field and error_type == "too_long":
        return f"Send at most {BATCH_MAX_EVENTS} events per request; split the batch."
    return message


class CouponRedeemIn(InputSchema):
    """A coupon code used on one of the customer's orders."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, StringConstraints(min_length=1, max_length=32)] = Field(
        description="The code as printed, e.g. K7QX-M2PA-9T (case-insensitive)."
    )
    customer_external_id: ExternalId = Field(description="The shop's id of the customer.")
    order_id: ExternalId = Field(description="The shop's order id the code is used on.")


class CouponRedeemOut(Schema):
    code: str
    status: str = Field(description="redeemed, or already_redeemed for a retry.")
    order_id: str
    redeemed_at: dt.datetime
