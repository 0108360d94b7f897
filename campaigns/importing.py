"""Reading an import CSV as a stream of records, checking each row with the API's own field
rules, and writing the rejects file (no queries).

The file is read line by line from a binary stream, so memory does not grow with its
size. Each record keeps the numbers of its physical lines, for the rejects file. Lines
that are not UTF-8 are kept (as surrogate escapes) so the row can be rejected with its
original bytes instead of stopping the import.
"""
import collections
import csv
import dataclasses
import datetime as dt
import re
import typing
from pathlib import Path

from pydantic import TypeAdapter, ValidationError
from typing_extensions import TypedDict

from campaigns.api_schemas import (
    AwareDateTime, CustomerIn, ExternalId, OrderIn, OrderLineIn, ProductIn, error_message,
    field_path,
)
from campaigns.attributes import AttributeValueError, attribute_coerce
from campaigns.exceptions import CampaignsError
from campaigns.models import Order, Topic

BOM = b"\xef\xbb\xbf"
# A physical line longer than this is cut into pieces (and its record then rejected).
MAX_LINE_BYTES = 1 << 20

CUSTOMER_PROFILE_COLUMNS = (
    "external_id", "email", "first_name", "last_name", "locale", "time_zone", "country",
    "signed_up_at",
)
CUSTOMER_CONSENT_COLUMNS = ("marketing_consent", "marketing_consent_at", "email_verified",
                            "wording_version")
# The code a new customer arrived with (issue 16); it counts only for a customer the
# file creates.
CUSTOMER_REFERRAL_COLUMNS = ("referral_code",)
CUSTOMER_COLUMNS = CUSTOMER_PROFILE_COLUMNS + CUSTOMER_CONSENT_COLUMNS + CUSTOMER_REFERRAL_COLUMNS
CUSTOMER_REQUIRED = ("external_id",)
ORDER_COLUMNS = ("external_id", "customer_external_id", "amount", "currency", "placed_at",
                 "status")
ORDER_REQUIRED = ("external_id", "customer_external_id", "amount", "currency", "placed_at")
PRODUCT_COLUMNS = ("sku", "name", "url", "image_url", "price", "currency", "category",
                   "brand", "in_stock", "reorder_days")
PRODUCT_REQUIRED = ("sku", "name")
# A products file may add name_<language> (name_sv, name_nb, name_sv-se) and attr_<key>.
PRODUCT_NAME_COLUMN = re.compile(r"^name_([a-z]{2,3}([-_][a-z]{2})?)$")
PRODUCT_ATTRIBUTE_COLUMN = re.compile(r"^attr_(.{1,64})$")
LINE_COLUMNS = ("order_external_id", "sku", "quantity", "price")
LINE_REQUIRED = LINE_COLUMNS
# A further column of a customers file becomes a custom attribute with this key.
ATTRIBUTE_KEY = re.compile(r"^[a-z0-9_-]{1,64}$")
OTHER_TOPIC_COLUMNS = {f"{topic}_consent" for topic in Topic if topic != Topic.MARKETING}


class ImportRefused(CampaignsError):
    """The whole file is refused before anything is written; the message says why."""


@dataclasses.dataclass
class Record:
    """One CSV record: its fields and the physical lines (number, bytes) it was read from."""

    fields: list[str]
    lines: list[tuple[int, bytes]]
    not_utf8: bool = False
    error: str = ""

    @property
    def line(self) -> int:
        return self.lines[0][0]

    @property
    def line_label(self) -> str:
        last = self.lines[-1][0]
        return str(self.line) if last == self.line else f"{self.line}-{last}"


class CsvRecords:
    """The records of a CSV file read from a binary stream, one at a time.

    `bytes_done` says how far the stream has been read. A record that the caller finds
    broken by a stray quote (it swallowed the lines after it) can be handed back with
    `reread_after_first`: its first line is the bad one, the others are read again.
    """

    def __init__(self, stream: typing.BinaryIO):
        self._stream = stream
        self._replay: collections.deque = collections.deque()
        self._current: list[tuple[int, bytes]] = []
        self._not_utf8 = False
        self._lineno = 0
        self.bytes_done = 0
        self._reader = csv.reader(self._texts(), strict=False)

    def _physical(self):
        readline = self._stream.readline
        while raw := readline(MAX_LINE_BYTES):
            self.bytes_done += len(raw)
            self._lineno += 1
            if self._lineno == 1 and raw.startswith(BOM):
                raw = raw[len(BOM):]
            yield self._lineno, raw

    def _texts(self):
        physical = self._physical()
        while True:
            if self._replay:
                lineno, raw = self._replay.popleft()
            else:
                item = next(physical, None)
                if item is None:
                    return
                lineno, raw = item
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("utf-8", "surrogateescape")
                self._not_utf8 = True
            self._current.append((lineno, raw))
            yield text

    def __iter__(self) -> typing.Iterator[Record]:
        while True:
            self._current, self._not_utf8 = [], False
            try:
                fields = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Record(fields=[], lines=self._current, not_utf8=self._not_utf8,
                             error=f"unreadable CSV: {exc}")
                continue
            if not fields and len(self._current) == 1:
                continue  # A blank line.
            yield Record(fields=fields, lines=self._current, not_utf8=self._not_utf8)

    def reread_after_first(self, record: Record) -> None:
        """Read the lines after the record's first one again, as records of their own."""
        self._replay.extendleft(reversed(record.lines[1:]))


class RejectsWriter:
    """The rejects CSV: line, reason, then the row's original values.

    Opened on the first reject only. Without the first two columns, a corrected rejects
    file can be imported as it is. Bytes that were not UTF-8 are written back unchanged.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.columns: list[str] = []
        self.count = 0
        self._file = None
        self._writer = None

    def add(self, record: Record, reason: str, fields: list[str] | None = None) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "w", newline="", encoding="utf-8",  # noqa: SIM115
                              errors="surrogateescape")
            self._writer = csv.writer(self._file)
            self._writer.writerow(["line", "reason", *self.columns])
        self._writer.writerow([record.line_label, reason,
                               *(record.fields if fields is None else fields)])
        self.count += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


_HEADERS = {
    # kind: (columns, required, what the hint adds)
    "customers": (CUSTOMER_COLUMNS, CUSTOMER_REQUIRED, " (and any custom attribute columns)."),
    "orders": (ORDER_COLUMNS, ORDER_REQUIRED, " (status is optional)."),
    "products": (PRODUCT_COLUMNS, PRODUCT_REQUIRED,
                 " (only sku and name are required; add name_sv, name_nb… for the name per "
                 "language and attr_<key> for free attributes)."),
    "order_lines": (LINE_COLUMNS, LINE_REQUIRED, "."),
}


def header_read(records: typing.Iterator[Record], *, kind: str) -> list[str]:
    """The column names of the file's first record, or ImportRefused saying what is wrong."""
    expected, required, more = _HEADERS[kind]
    hint = f"The first line must name the columns, e.g. {','.join(expected)}{more}"
    record = next(records, None)
    if record is None:
        raise ImportRefused(f"The file is empty. {hint}")
    if record.not_utf8:
        raise ImportRefused(
            "The header line is not UTF-8 text. Save the file as CSV UTF-8 and try again.")
    if record.error or len(record.lines) > 1:
        raise ImportRefused(f"The header line cannot be read as CSV. {hint}")
    columns = [name.strip().lower() for name in record.fields]
    missing = [name for name in required if name not in columns]
    if missing:
        separator = next((s for s in (";", "\t") if len(columns) == 1 and s in columns[0]), "")
        if separator:
            hint = (f"The columns seem to be separated by {separator!r}: save the file as "
                    f"CSV with commas (in Excel: CSV UTF-8). {hint}")
        raise ImportRefused(f"Missing column(s): {', '.join(missing)}. {hint}")
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        raise ImportRefused(f"Column(s) named twice: {', '.join(repeated)}.")
    if kind == "customers":
        bad = [name for name in columns if name not in CUSTOMER_COLUMNS
               and (not ATTRIBUTE_KEY.match(name) or name in OTHER_TOPIC_COLUMNS)]
        if bad:
            raise ImportRefused(
                f"Column(s) {', '.join(repr(n) for n in bad)} are neither customer fields "
                "nor valid custom attribute names (lower-case letters, digits, _ and -, "
                "at most 64). Only marketing_consent is imported as consent; per-topic "
                f"consent goes through the API. {hint}")
    else:
        unknown = [name for name in columns if name not in expected and not (
            kind == "products" and (PRODUCT_NAME_COLUMN.match(name)
                                    or PRODUCT_ATTRIBUTE_COLUMN.match(name)))]
        if unknown:
            raise ImportRefused(f"Unknown column(s): {', '.join(unknown)}. {hint}")
    return columns


def _annotation(model, name: str):
    """The API schema's own type for one field, with its validators and constraints."""
    info = model.model_fields[name]
    if info.metadata:
        return typing.Annotated[(info.annotation, *info.metadata)]
    return info.annotation


class _Fields:
    """Several fields checked by their API rules in one call to pydantic."""

    def __init__(self, name: str, annotations: dict):
        self._adapter = TypeAdapter(TypedDict(name, annotations, total=False))

    def check(self, raw: dict) -> tuple[dict, list[str]]:
        """(checked values, []) or ({}, the problems as "field: message")."""
        try:
            return self._adapter.validate_python(raw), []
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                field = ".".join(str(part) for part in error["loc"])
                problems.append(f"{field}: {error_message(error['type'], field, error['msg'])}")
            return {}, problems


def _boolean(field: str, raw: str, problems: list[str]) -> bool | None:
    try:
        return attribute_coerce("boolean", raw)
    except AttributeValueError as exc:
        problems.append(f"{field}: {exc}")
        return None


@dataclasses.dataclass
class CustomerRow:
    line: int
    external_id: str
    profile: dict  # Only the fields the row gives a value for.
    attributes: dict
    consent: bool | None = None
    consent_at: dt.datetime | None = None
    wording_version: str = ""
    email_verified: bool = False
    referral_code: str = ""


@dataclasses.dataclass
class OrderRow:
    line: int
    external_id: str
    customer_external_id: str
    amount: typing.Any
    currency: str
    placed_at: dt.datetime
    status: str | None


class CustomerRowReader:
    """Checks a customers row with the API's rules; `attribute_types` maps declared keys."""

    CHECKED = (*CUSTOMER_PROFILE_COLUMNS, "wording_version", *CUSTOMER_REFERRAL_COLUMNS)

    def __init__(self, columns: list[str], attribute_types: dict[str, str]):
        self.columns = columns
        self.attribute_types = attribute_types
        self._fields = _Fields("CustomerRowFields", {
            **{name: _annotation(CustomerIn, name) for name in self.CHECKED},
            "marketing_consent_at": AwareDateTime,
        })
        self._checked = [c for c in (*self.CHECKED, "marketing_consent_at") if c in columns]
        self.attribute_columns = [c for c in columns if c not in CUSTOMER_COLUMNS]

    def read(self, line: int, values: dict[str, str], *,
             stored_email: str | None = None) -> CustomerRow | list[str]:
        """The row, or its problems (each naming the field).

        An email equal to `stored_email` (the one already stored for this customer) is
        not checked again: re-importing a file costs no address parsing.
        """
        raw = {}
        for name in self._checked:
            value = values[name].strip()
            if value:
                raw[name] = value
        email = raw.get("email")
        if email is not None and email == stored_email:
            del raw["email"]
        checked, problems = self._fields.check(raw)
        if email is not None and "email" not in raw:
            checked["email"] = email
        external_id = checked.pop("external_id", None)
        if external_id is None and "external_id" not in raw:
            problems.append("external_id: This field is required.")
        attributes = {}
        for key in self.attribute_columns:
            value = values[key].strip()
            if value:
                try:
                    attributes[key] = attribute_coerce(self.attribute_types.get(key, "text"),
                                                       value)
                except AttributeValueError as exc:
                    problems.append(f"{key}: {exc}")
        consent = values.get("marketing_consent", "").strip()
        consent = _boolean("marketing_consent", consent, problems) if consent else None
        consent_at = checked.pop("marketing_consent_at", None)
        if consent and "marketing_consent_at" not in raw:
            problems.append(
                "marketing_consent_at: required when marketing_consent is true: add the date "
                "and time the customer gave consent (ISO 8601 with a time zone), which the "
                "consent log keeps as proof")
        verified = values.get("email_verified", "").strip()
        verified = _boolean("email_verified", verified, problems) if verified else False
        if problems:
            return problems
        wording = checked.pop("wording_version", "")
        referral_code = checked.pop("referral_code", "")
        return CustomerRow(line=line, external_id=external_id, profile=checked,
                           attributes=attributes, consent=consent, consent_at=consent_at,
                           wording_version=wording, email_verified=bool(verified),
                           referral_code=referral_code)


class OrderRowReader:
    """Checks an orders row with the API's rules for orders."""

    STATUSES = frozenset(Order.Status.values)
    REQUIRED = ("external_id", "customer_external_id", "amount", "currency", "placed_at")

    def __init__(self, columns: list[str]):
        self.columns = columns
        self._fields = _Fields("OrderRowFields", {
            **{name: _annotation(OrderIn, name) for name in ("external_id", "amount", "currency")},
            "customer_external_id": ExternalId,
            "placed_at": AwareDateTime,
        })

    def read(self, line: int, values: dict[str, str], **_) -> OrderRow | list[str]:
        raw = {}
        problems = []
        for name in self.REQUIRED:
            value = values[name].strip()
            if value:
                raw[name] = value
            else:
                problems.append(f"{name}: This field is required.")
        checked, invalid = self._fields.check(raw)
        problems[:0] = invalid
        status = values.get("status", "").strip().lower() or None
        if status is not None and status not in self.STATUSES:
            problems.append(f"status: expected one of {', '.join(sorted(self.STATUSES))}")
        if problems:
            return problems
        return OrderRow(line=line, status=status, **checked)


@dataclasses.dataclass
class ProductRow:
    line: int
    external_id: str  # The SKU: what duplicates in the file are found by.
    data: dict  # As the API's ProductIn gives it: only the fields the row has a value for.


class ProductRowReader:
    """Checks a products row with the API's rules (ProductIn): empty cells are left out,
    so they keep the stored value."""

    def __init__(self, columns: list[str]):
        self.columns = columns
        self.fields = [c for c in PRODUCT_COLUMNS if c in columns]
        self.names = {c: PRODUCT_NAME_COLUMN.match(c).group(1) for c in columns
                      if c not in PRODUCT_COLUMNS and PRODUCT_NAME_COLUMN.match(c)}
        self.attributes = {c: PRODUCT_ATTRIBUTE_COLUMN.match(c).group(1) for c in columns
                           if c not in PRODUCT_COLUMNS and c not in self.names}

    def read(self, line: int, values: dict[str, str], **_) -> ProductRow | list[str]:
        raw, problems = {}, []
        for name in self.fields:
            value = values[name].strip()
            if value:
                raw[name] = value
        if "in_stock" in raw:
            raw["in_stock"] = _boolean("in_stock", raw["in_stock"], problems)
        names = {language: values[c].strip() for c, language in self.names.items()
                 if values[c].strip()}
        if names:
            raw["names"] = names
        attributes = {key: values[c].strip() for c, key in self.attributes.items()
                      if values[c].strip()}
        if attributes:
            raw["attributes"] = attributes
        for name in PRODUCT_REQUIRED:
            if name not in raw:
                problems.append(f"{name}: This field is required.")
        if problems:
            return problems
        try:
            product = ProductIn.model_validate(raw)
        except ValidationError as exc:
            for error in exc.errors():
                loc = list(error["loc"])
                if loc[:1] == ["names"] and len(loc) == 1:
                    field = "name_*"
                elif loc[:1] == ["attributes"] and len(loc) == 1:
                    field = "attr_*"
                else:
                    field = field_path(loc)
                problems.append(f"{field}: {error_message(error['type'], field, error['msg'])}")
            return problems
        data = product.model_dump(exclude_unset=True)
        return ProductRow(line=line, external_id=data["sku"], data=data)


@dataclasses.dataclass
class LineRow:
    line: int
    external_id: str  # The order's external id.
    sku: str
    quantity: int
    price: typing.Any


class LineRowReader:
    """Checks an order lines row with the API's rules for an order's line."""

    def __init__(self, columns: list[str]):
        self.columns = columns
        self._fields = _Fields("LineRowFields", {
            "order_external_id": ExternalId,
            **{name: _annotation(OrderLineIn, name) for name in ("sku", "quantity", "price")},
        })

    def read(self, line: int, values: dict[str, str], **_) -> LineRow | list[str]:
        raw, problems = {}, []
        for name in LINE_REQUIRED:
            value = values[name].strip()
            if value:
                raw[name] = value
            else:
                problems.append(f"{name}: This field is required.")
        checked, invalid = self._fields.check(raw)
        problems[:0] = invalid
        if problems:
            return problems
        return LineRow(line=line, external_id=checked["order_external_id"],
                       sku=checked["sku"], quantity=checked["quantity"],
                       price=checked["price"])
