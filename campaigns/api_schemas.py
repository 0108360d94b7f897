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
from pydantic.networks import MAX_EMAIL_LENGTH, pretty_email_regex
from pydantic_core import PydanticCustomError

from campaigns import clock
from campaigns.models import Topic

BATCH_MAX_EVENTS = 1000

# What campaigns.storable refuses, as a pattern every JSON Schema tool can use: NUL. The
# body parser enforces it (before pydantic, which lets it through). Lone surrogates are
# refused too, but no pattern can say so portably: Rust's and Go's regex engines (which
# validators such as jsonschema-rs use) have no surrogates, and Python's re no \p{Cs}; a
# pattern naming them is dropped as unusable (schemathesis then ignores the whole pattern).
# A lone surrogate is not a character, so no client sends one in text; the API description
# says it is refused.
STORABLE_TEXT = r"^[^\u0000]*$"
# Spaces around an id: Python's and Unicode's white space together, so that the server and
# a client reading the pattern with either notion agree.
_SPACE = r" \t\n\r\f\v\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_ID_CHAR = r"[^\u0000]"
_ID_EDGE = rf"[^{_SPACE}\u0000]"
EXTERNAL_ID_PATTERN = rf"^{_ID_EDGE}({_ID_CHAR}*{_ID_EDGE})?$"
LOCALE_PATTERN = r"^[A-Za-z]{2,3}([-_][A-Za-z]{2})?$"
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
    try:
        return value.astimezone(dt.timezone.utc)
    except OverflowError:
        # 0001-01-01T00:00:01+00:01 lies before the first representable UTC time.
        raise PydanticCustomError(
            "datetime_out_of_range", "The date-time is out of range: give year 1 to 9999 in UTC."
        ) from None


def _known_time_zone(value: str | None) -> str | None:
    if value is not None and value not in _time_zone_names():
        raise PydanticCustomError(
            "time_zone_unknown",
            "Unknown time zone. Give an IANA name such as Europe/Stockholm.",
        )
    return value


def _normalise_locale(value: str) -> str:
    # Shops send sv_SE, sv-se or SV; all mean sv-SE.
    language, _, region = value.replace("_", "-").partition("-")
    return f"{language.lower()}-{region.upper()}" if region else language.lower()


def _external_id_trimmed(value: str) -> str:
    if re.fullmatch(EXTERNAL_ID_PATTERN, value) is None:
        raise PydanticCustomError(
            "external_id_space", "Remove the spaces at the start or end of the id."
        )
    return value


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


# Sending to such an address needs SMTPUTF8 end to end; see docs/architecture.md.
EMAIL_LOCAL_NOT_ASCII = (
    "The part before @ has characters outside ASCII (such as å): most mail servers cannot "
    "deliver to it, so it is not accepted. Ask the customer for an address without them; "
    "the domain may have them (e.g. anna@exämple.se)."
)


@functools.lru_cache(maxsize=4096)
def _email_domain_checked(domain: str) -> tuple[str, str] | None:
    """(normalised, IDNA ASCII) form of a domain email-validator accepts, else None.

    The domain's checks (IDNA, label rules, TLD) do not depend on the local part, so they
    are made once per domain, by email-validator itself, through a minimal address.
    """
    import email_validator

    try:
        checked = email_validator.validate_email(
            f"a@{domain}", check_deliverability=False, test_environment=True
        )
    except email_validator.EmailNotValidError:
        return None
    return checked.domain, checked.ascii_domain


def _email_validate_fully(value: str) -> str:
    """pydantic's `validate_email` (EmailStr's check and normal form), with one difference:
    addresses under the special-use name `.test` (RFC 6761) are taken, as email-validator
    does in its test environment, so a shop's test customers (`qa@shop.test`, like
    `anna@example.com`) come in as the shop sends them. The names that cannot be a mail
    domain anywhere (`.invalid`, `.localhost`, `.local`, `.onion`, `.arpa`) stay refused.
    """
    import email_validator

    reason = None
    if len(value) > MAX_EMAIL_LENGTH:
        reason = f"Length must not exceed {MAX_EMAIL_LENGTH} characters"
    elif "\r" in value or "\n" in value:
        reason = "Carriage return and line feed characters are not allowed"
    else:
        pretty = pretty_email_regex.fullmatch(value)
        try:
            return email_validator.validate_email(
                (pretty.group(3) if pretty else value).strip(),
                check_deliverability=False, test_environment=True,
            ).normalized
        except email_validator.EmailNotValidError as exc:
            reason = str(exc.args[0])
    raise PydanticCustomError(
        "value_error", "value is not a valid email address: {reason}", {"reason": reason}
    )


@functools.cache
def _case_insensitive_mailboxes() -> frozenset[str]:
    from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

    return frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)


def email_normalised(value: str) -> str:
    """The API's email rule: pydantic's EmailStr verdict and normalised address, but for
    `.test` domains (taken) and non-ASCII local parts (refused).

    Everyday addresses (see `_EVERYDAY_EMAIL`) on a domain already checked skip the
    address parser: their local part is returned unchanged by it, so the result is the
    local part, "@" and the domain's cached normal form. Every other address (quoted,
    internationalised local part, display name, role mailboxes that get lower-cased,
    bad domain, too long) goes through pydantic's own check, errors included; a local
    part that is not ASCII is then refused too (no SMTPUTF8 here).
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
    address = _email_validate_fully(value)
    if not address.rpartition("@")[0].isascii():
        raise PydanticCustomError("email_local_part_not_ascii", EMAIL_LOCAL_NOT_ASCII)
    return address


def _any_case(word: str) -> str:
    # ECMA-262 patterns have no case-insensitive flag inside the pattern.
    return "".join(f"[{c}{c.upper()}]" for c in word)


# email-validator's special-use names (its SPECIAL_USE_DOMAIN_NAMES) but `test`, which is
# taken: addresses that cannot exist anywhere. A test holds the two lists together.
EMAIL_RESERVED_DOMAINS = ("arpa", "invalid", "local", "localhost", "onion")
_EMAIL_RESERVED_PATTERN = (
    f"[.@]({'|'.join(_any_case(name) for name in EMAIL_RESERVED_DOMAINS)})$"
)

# Same validation, errors and normal form as pydantic's EmailStr (but for the two
# differences above), faster; the schema says format email and the reserved domains.
Email = Annotated[
    str,
    AfterValidator(email_normalised),
    WithJsonSchema({"type": "string", "format": "email",
                    "not": {"pattern": _EMAIL_RESERVED_PATTERN}}),
]

AwareDateTime = Annotated[
    dt.datetime,
    BeforeValidator(_require_iso_string),
    AfterValidator(_aware_and_not_far_ahead),
]
ExternalId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100),
    AfterValidator(_external_id_trimmed),
    Field(json_schema_extra={"pattern": EXTERNAL_ID_PATTERN}),
]


def Text(max_length: int, min_length: int = 0) -> Any:  # noqa: N802 (reads as a type)
    """Free text of at most `max_length` characters that the database can store."""
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length),
        Field(json_schema_extra={"pattern": STORABLE_TEXT}),
    ]


_ATTRIBUTES_SCHEMA = {
    "type": "object",
    "propertyNames": {"minLength": 1, "maxLength": 64, "pattern": STORABLE_TEXT},
    "additionalProperties": {
        "anyOf": [
            {"type": "string", "pattern": STORABLE_TEXT},
            {"type": "number"},
            {"type": "boolean"},
            {"type": "null"},
        ]
    },
}
_PROPERTIES_SCHEMA = {
    "type": "object",
    "propertyNames": {"pattern": STORABLE_TEXT},
    "description": "Free-form details of the event: any JSON object. Its text, keys "
    "included and at any depth, must not contain NUL or unpaired surrogates.",
}


def _no_default_shown(schema: dict) -> None:
    # The default (null) is how pydantic tells "left out"; sending null is refused.
    schema.pop("default", None)

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
    email: Email = Field(
        default=None,
        description="Required when the customer is new; cannot be cleared (null is "
        "refused). Checked for syntax, not delivery. The part before @ must be ASCII "
        "(see the API description); the domain may be internationalised. Test domains "
        "(.test, example.com) are taken; names that cannot receive mail anywhere "
        "(.invalid, .localhost, .local, .onion, .arpa) are refused.",
        json_schema_extra=_no_default_shown,
    )
    first_name: Text(100) | None = None
    last_name: Text(100) | None = None
    locale: (
        Annotated[
            str,
            StringConstraints(pattern=LOCALE_PATTERN),
            AfterValidator(_normalise_locale),
        ]
        | None
    ) = Field(
        default=None,
        description="Language, optionally with region: sv, nb, en, sv-SE. Any case, "
        "with - or _ (sv_se, SV); stored as sv-SE.",
    )
    time_zone: (
        Annotated[
            str,
            AfterValidator(_known_time_zone),
            WithJsonSchema({"type": "string", "enum": sorted(_time_zone_names())}),
        ]
        | None
    ) = Field(default=None, description="IANA time zone name, e.g. Europe/Stockholm.")
    country: (
        Annotated[
            str,
            StringConstraints(pattern=r"^[A-Za-z]{2}$"),
            AfterValidator(str.upper),
        ]
        | None
    ) = Field(
        default=None, description="ISO 3166-1 alpha-2 code, e.g. SE (any case)."
    )
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
    wording_version: Text(64) | None = Field(
        default=None, description="Version of the consent text the customer saw."
    )
    referral_code: Text(64) | None = Field(
        default=None,
        description="The referral code the customer arrived with (the `ref` of a "
        "referral link). Counts only when this request creates the customer: once per "
        "customer, never for their own code or address. An unknown, revoked or "
        "malformed code is recorded as ignored; the customer is created all the same. "
        "Empty or null: no code.",
    )
    attributes: (
        Annotated[
            dict[str, Any],
            AfterValidator(_scalars_only),
            WithJsonSchema(_ATTRIBUTES_SCHEMA),
        ]
        | None
    ) = Field(
        default=None,
        description="Extra facts as an object of scalars, merged into the stored ones; "
        "a null value removes that attribute.",
    )

    @field_validator("email", mode="before")
    @classmethod
    def _email_not_null(cls, value: Any) -> Any:
        if value is None:
            raise PydanticCustomError(
                "email_null",
                "The email cannot be cleared; leave the field out to keep it.",
            )
        return value


# What Decimal(max_digits=12, decimal_places=2, gt=0) takes: a string or a number.
_AMOUNT_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": r"^(?=.*[1-9])\d{1,10}(\.\d{1,2})?$"},
        {"type": "number", "exclusiveMinimum": 0, "maximum": 9999999999.99,
         "multipleOf": 0.01},
    ]
}


BATCH_MAX_PRODUCTS = 1000
LINES_MAX = 500
# A SKU: 1-100 characters after trimming, no control characters (NUL, tab, newline, …).
SKU_PATTERN = (r"^[^\u0000-\u001f\u007f]*"
               rf"[^{_SPACE}\u0000-\u001f\u007f][^\u0000-\u001f\u007f]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PRICE_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": r"^\d{1,10}(\.\d{1,2})?$"},
        {"type": "number", "minimum": 0, "maximum": 9999999999.99, "multipleOf": 0.01},
    ]
}


def sku_checked(value: str) -> str:
    """The API's rule for a SKU: trimmed, 1 to 100 characters, no control characters."""
    value = value.strip()
    if not value:
        raise PydanticCustomError("sku_empty", "The SKU is empty.")
    if len(value) > 100:
        raise PydanticCustomError("sku_too_long", "The SKU is longer than 100 characters.")
    if _CONTROL.search(value):
        raise PydanticCustomError(
            "sku_control", "The SKU contains a control character (such as a tab or a "
            "newline); remove it.")
    return value


Sku = Annotated[
    str,
    StringConstraints(max_length=100),
    AfterValidator(sku_checked),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 100,
                    "pattern": SKU_PATTERN}),
]
Price = Annotated[
    Decimal,
    Field(ge=0, max_digits=12, decimal_places=2),
    WithJsonSchema(_PRICE_SCHEMA),
]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Quantity = Annotated[int, Field(ge=1, le=1_000_000)]


class EventLineIn(InputSchema):
    """A line of a cart, a viewed product or a refund: a product by its SKU.

    A SKU not in the catalogue yet is kept and linked when the product arrives."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"sku": "KN-200", "quantity": 1, "price": "899.00"}},
    )

    sku: Sku = Field(description="The shop's product code (1-100 chars, trimmed).")
    quantity: Quantity = Field(default=1, description="An integer, at least 1 (default 1).")
    price: Price | None = Field(
        default=None, description="Unit price, at least 0, at most 2 decimals; send it "
        'as a string, e.g. "899.00".')
    total: Price | None = Field(
        default=None, description="Optional: quantity × price; refused when it differs.")
    currency: Currency | None = Field(
        default=None, description="Optional ISO 4217 code; on an order's line it must be "
        "the order's currency.")

    @field_validator("total")
    @classmethod
    def _total_matches(cls, value: Decimal | None, info: ValidationInfo):
        if value is None:
            return value
        if "quantity" not in info.data or "price" not in info.data:
            return value  # Refused for their own reasons already.
        price = info.data["price"]
        if price is None:
            raise PydanticCustomError(
                "line_total_without_price", "A line total needs the line's unit price.")
        expected = price * info.data["quantity"]
        if value != expected:
            raise PydanticCustomError(
                "line_total_mismatch",
                "A line total that does not match: quantity × price is {expected}.",
                {"expected": f"{expected:.2f}"})
        return value


class OrderLineIn(EventLineIn):
    """A line of an order: a SKU, how many, at what unit price."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"sku": "KN-200", "quantity": 2, "price": "449.50",
                                       "total": "899.00"}},
    )

    quantity: Quantity = Field(description="An integer, at least 1.")
    price: Price = Field(
        description='Unit price, at least 0, at most 2 decimals, e.g. "449.50".')


class OrderIn(InputSchema):
    """The order of a purchase, matched by `external_id`; recorded once."""

    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId = Field(description="The shop's order id (1-100 chars).")
    amount: Annotated[
        Decimal,
        Field(gt=0, max_digits=12, decimal_places=2),
        WithJsonSchema(_AMOUNT_SCHEMA),
    ] = Field(
        description="Greater than 0, at most 2 decimals; send it as a string, "
        'e.g. "499.00".'
    )
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(
        description="ISO 4217 code in capitals, e.g. SEK."
    )
    items: Annotated[list[OrderLineIn], Field(min_length=1, max_length=LINES_MAX)] = Field(
        default=None,
        description=f"The order's lines (1 to {LINES_MAX}), stored with the order when it "
        "is new. Their sum may differ from `amount` (discounts, shipping).",
        json_schema_extra=_no_default_shown,
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
            },
            # `order` is required on purchases and must be absent or null on the others.
            "if": {"properties": {"type": {"const": "purchase"}}},
            "then": {"required": ["order"], "properties": {"order": {"type": "object"},
                                                           "items": {"type": "null"}}},
            "else": {"properties": {"order": {"type": "null"}}},
        },
    )

    event_id: Text(200, min_length=1) | None = (
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
    properties: Annotated[dict[str, Any], WithJsonSchema(_PROPERTIES_SCHEMA)] = Field(
        default_factory=dict
    )
    items: Annotated[list[EventLineIn], Field(min_length=1, max_length=LINES_MAX)] = Field(
        default=None,
        description=f"Lines of a cart (`checkout.started`, `cart.updated`), viewed "
        f"products (`product.viewed`; `properties.sku` is a shorthand for one) or a "
        f"refund (`refund`, `order_cancelled` with `properties.order`: the lines "
        f"refunded): 1 to {LINES_MAX}. A purchase's lines go in `order.items`.",
        json_schema_extra=_no_default_shown,
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

    @field_validator("items")
    @classmethod
    def _items_not_on_purchases(cls, value, info: ValidationInfo):
        if info.data.get("type") == "purchase" and value is not None:
            raise PydanticCustomError(
                "items_on_purchase", "A purchase's lines go in order.items.")
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
        description='Dotted path of the bad field, e.g. "customer.email", list '
        'positions in brackets ("order.items[2].quantity"); empty when the problem is '
        "the request as a whole."
    )
    message: str


class ErrorsOut(Schema):
    errors: list[ErrorOut]


def field_path(parts) -> str:
    """A location as the API names fields: dotted, list positions in brackets
    (`order.items[2].quantity`)."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def error_field_path(loc: tuple | list) -> tuple[int | None, str]:
    """Split an error location below the body into (batch index, field path)."""
    index = None
    parts = list(loc)
    if parts[:1] == ["batch"]:
        parts = parts[1:]
        if parts and isinstance(parts[0], int):
            index, parts = parts[0], parts[1:]
    elif parts[:1] in (["event"], ["product"]):
        parts = parts[1:]
    return index, field_path(parts)


def error_message(error_type: str, field: str, message: str, noun: str = "event") -> str:
    """A message for an integrator: ours where pydantic's wording is unclear."""
    if error_type == "missing":
        return "This field is required." if field else "The body is empty; send JSON."
    if error_type in ("model_type", "model_attributes_type", "dict_type"):
        return "Expected a JSON object here."
    if error_type == "extra_forbidden":
        return "Unknown field; check its spelling against the API documentation."
    if not field and error_type == "too_short":
        return f"The list is empty; send at least 1 {noun}."
    if not field and error_type == "too_long":
        limit = BATCH_MAX_PRODUCTS if noun == "product" else BATCH_MAX_EVENTS
        return f"Send at most {limit} {noun}s per request; split the batch."
    return message


class CouponRedeemIn(InputSchema):
    """A coupon code used on one of the customer's orders."""

    model_config = ConfigDict(extra="forbid")

    code: Text(32, min_length=1) = Field(
        description="The code as printed, e.g. K7QX-M2PA-9T (case-insensitive)."
    )
    customer_external_id: ExternalId = Field(description="The shop's id of the customer.")
    order_id: ExternalId = Field(description="The shop's order id the code is used on.")


class CouponRedeemOut(Schema):
    code: str
    status: str = Field(description="redeemed, or already_redeemed for a retry.")
    order_id: str
    redeemed_at: dt.datetime


# Products ------------------------------------------------------------------------------

# An absolute http(s) URL with a host part and no blanks or control characters; what the
# server checks (`http_url`) and the document says are the same rule.
HTTP_URL_PATTERN = r"^[hH][tT][tT][pP][sS]?://[^\u0000-\u0020\u007f/?#][^\u0000-\u0020\u007f]*$"
_HTTP_URL_SCHEMA = {"type": "string", "maxLength": 2000, "pattern": HTTP_URL_PATTERN}


def http_url(value: str) -> str:
    """An absolute http(s) URL (what a customer's mail program may follow or load)."""
    if len(value) <= 2000 and re.fullmatch(HTTP_URL_PATTERN, value):
        return value
    raise PydanticCustomError(
        "url_not_http",
        "Give an absolute http or https URL of at most 2000 characters, e.g. "
        "https://shop.example/p/kn-200; other schemes (javascript:, ftp:, data:) and "
        "relative URLs are refused.")


def category_normalised(value: str) -> str:
    """A category path with one separator form: "Kitchen>Knives" → "Kitchen > Knives";
    blanks inside a level collapse to one space, empty levels are dropped."""
    levels = [" ".join(level.split()) for level in value.split(">")]
    path = " > ".join(level for level in levels if level)
    if len(path) > 300:
        raise PydanticCustomError(
            "category_too_long", "The category path is longer than 300 characters.")
    return path


def _names_checked(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return value
    if len(value) > 50:
        raise PydanticCustomError("names_too_many", "Give at most 50 languages.")
    names = {}
    for language, name in value.items():
        if re.fullmatch(LOCALE_PATTERN, language) is None:
            raise PydanticCustomError(
                "names_language",
                "Name the language by its code, e.g. sv, nb, en or sv-SE.")
        if len(name) > 300 or not name.strip():
            raise PydanticCustomError(
                "names_length", "Each name must be 1 to 300 characters long.")
        names[_normalise_locale(language)] = name.strip()
    return names


def _product_attributes(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return value
    if len(value) > 100:
        raise PydanticCustomError("attributes_too_many", "Give at most 100 attributes.")
    _scalars_only(value)
    for item in value.values():
        if isinstance(item, str) and len(item) > 1000:
            raise PydanticCustomError(
                "attribute_too_long", "An attribute's text is at most 1000 characters.")
    # A null value means "no such attribute": left out.
    return {key: item for key, item in value.items() if item is not None}


# Text with at least one character that is not white space (which is trimmed).
NOT_BLANK_TEXT = rf"^[^\u0000]*[^{_SPACE}\u0000][^\u0000]*$"


def _not_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise PydanticCustomError("blank", "The text is empty.")
    return value


HttpUrl = Annotated[str, AfterValidator(http_url), WithJsonSchema(_HTTP_URL_SCHEMA)]
Category = Annotated[
    str,
    StringConstraints(max_length=300),
    AfterValidator(category_normalised),
    Field(json_schema_extra={"pattern": STORABLE_TEXT}),
]
ProductName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=300),
    AfterValidator(_not_blank),
    Field(json_schema_extra={"pattern": NOT_BLANK_TEXT}),
]
_NAMES_SCHEMA = {
    "type": "object", "maxProperties": 50,
    "propertyNames": {"pattern": LOCALE_PATTERN},
    "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 300,
                             "pattern": NOT_BLANK_TEXT},
}


class ProductIn(InputSchema):
    """A product of the shop's catalogue, matched by `sku`; created when new.

    Fields left out keep their stored value (a new product gets the defaults); `null`
    clears an optional field."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "sku": "KN-200",
                "name": "Chef's knife 20 cm",
                "names": {"sv": "Kockkniv 20 cm", "nb": "Kokkekniv 20 cm"},
                "url": "https://shop.example/p/kn-200",
                "image_url": "https://shop.example/img/kn-200.jpg",
                "price": "899.00",
                "currency": "SEK",
                "category": "Kitchen > Knives",
                "brand": "Morakniv",
                "in_stock": True,
                "attributes": {"steel": "Sandvik 12C27", "length_cm": 20},
                "reorder_days": None,
            },
            # A price needs its currency.
            "if": {"required": ["price"],
                   "properties": {"price": {"not": {"type": "null"}}}},
            "then": {"required": ["currency"],
                     "properties": {"currency": {"type": "string"}}},
        },
    )

    sku: Sku = Field(description="The shop's product code (1-100 chars, trimmed, no "
                     "control characters): the key of the upsert.")
    name: ProductName = Field(description="The name (1-300 chars), used when the "
                              "customer's language has none in `names`.")
    names: (
        Annotated[dict[str, str], AfterValidator(_names_checked),
                  WithJsonSchema(_NAMES_SCHEMA)] | None
    ) = Field(default=None, description='The name per language, e.g. {"sv": "Kockkniv", '
              '"nb": "Kokkekniv"}. Keys sv, nb, en, sv-SE (any case).')
    url: HttpUrl | None = Field(default=None, description="The product page: an "
                                "absolute http(s) URL.")
    image_url: HttpUrl | None = Field(default=None, description="The product image: an "
                                      "absolute http(s) URL.")
    price: Price | None = Field(default=None, description='Unit price, at least 0, at '
                                'most 2 decimals; send it as a string, e.g. "899.00".')
    currency: Currency | None = Field(
        default=None, validate_default=True,
        description="ISO 4217 code in capitals, e.g. SEK; required with a price.")
    category: Category | None = Field(
        default=None, description='A path, e.g. "Kitchen > Knives"; "Kitchen>Knives" '
        "is stored as that too.")
    brand: Annotated[str, StringConstraints(max_length=100), AfterValidator(str.strip),
                     Field(json_schema_extra={"pattern": STORABLE_TEXT})] | None = None
    in_stock: StrictBool = Field(default=True, description="Default true. Products out "
                                 "of stock are never recommended.")
    attributes: (
        Annotated[dict[str, Any], AfterValidator(_product_attributes),
                  WithJsonSchema(_ATTRIBUTES_SCHEMA)]
        | None
    ) = Field(default=None, description="Free facts as a flat object of scalars (at "
              "most 100); replaces the stored ones. A null value leaves that key out.")
    reorder_days: Annotated[int, Field(ge=1, le=3650)] | None = Field(
        default=None, description="Days after which a buyer usually needs it again "
        "(1-3650); when left empty it is learned from the order history.")

    @field_validator("currency")
    @classmethod
    def _currency_with_price(cls, value: str | None, info: ValidationInfo):
        if value is None and info.data.get("price") is not None:
            raise PydanticCustomError(
                "currency_missing", "Required when a price is given.")
        return value

    @field_validator("in_stock", mode="before")
    @classmethod
    def _in_stock_not_null(cls, value: Any) -> Any:
        if value is None:
            raise PydanticCustomError(
                "in_stock_null", "Give true or false; leave the field out to keep it.")
        return value


def _single_or_batch_of_products(value: Any) -> str:
    return "batch" if isinstance(value, list) else "product"


ProductsPayload = Annotated[
    Union[
        Annotated[ProductIn, Tag("product")],
        Annotated[
            list[ProductIn],
            Field(min_length=1, max_length=BATCH_MAX_PRODUCTS),
            Tag("batch"),
        ],
    ],
    Discriminator(_single_or_batch_of_products),
]


class ProductResultOut(Schema):
    index: int = Field(description="Position in the posted list (0 for one product).")
    sku: str
    status: Literal["created", "updated", "unchanged"]


class ProductsOut(Schema):
    created: int
    updated: int
    unchanged: int
    results: list[ProductResultOut]
