"""The shop's ingestion API (JSON over HTTP): events, customers and products in, nothing
else."""

import json
import logging
import math

from django.http import HttpRequest, HttpResponse
from ninja import Body, NinjaAPI, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer

from campaigns.api_schemas import (
    BATCH_MAX_EVENTS,
    BATCH_MAX_PRODUCTS,
    LINES_MAX,
    CouponRedeemIn,
    CouponRedeemOut,
    CustomerIn,
    CustomerOut,
    ErrorsOut,
    EventsOut,
    EventsPayload,
    ProductsOut,
    ProductsPayload,
    error_field_path,
    error_message,
    field_path,
)
from campaigns.models import ApiKey, ConsentSource
from campaigns.services.api_keys import api_key_authenticate
from campaigns import clock
from campaigns.services.coupons import CouponNotFound, CouponRejected, coupon_redeem
from campaigns.services.customers import IngestRejected, customer_upsert
from campaigns.services.events import CREATED, events_ingest
from campaigns.services.products import products_upsert
from campaigns.storable import Unstorable, unstorable_find

logger = logging.getLogger(__name__)

API_DESCRIPTION = """
How the shop sends customers and what they do to Loyalty CRM.

**Authentication.** Every request carries `Authorization: Bearer <key>`; keys are issued
in the admin or with `manage.py create_api_key NAME`. A missing, unknown or revoked key
gets `401` with a `WWW-Authenticate: Bearer` header.

**Errors.** Every error is JSON: `{"errors": [{"field": "customer.email", "message":
"…"}]}`, with `"index"` added for an item of a batch. `field` is the dotted path of the
bad value, with list positions in brackets (`order.items[2].quantity`), empty when the
request as a whole is wrong. Status codes: `400` invalid data
(including a body that is not JSON), `401` no valid key, `413` body over 1 MB.

**Text** anywhere in a body, object keys and `properties` at any depth included, must
not contain NUL (`\\u0000`) or an unpaired surrogate (`\\ud800`-`\\udfff`): the
database cannot store either, and the answer is `400` naming the field. Numbers must be
finite (`NaN`, `Infinity` and numbers beyond a double's range are refused).

**Times** are ISO 8601 with a time zone (`2026-03-02T09:30:00Z`); times without one are
rejected.
"""

EVENTS_DESCRIPTION = f"""
Post one event object, or a list of 1 to {BATCH_MAX_EVENTS} of them (a batch). The body
may be at most 1 MB.

Each event upserts its `customer` by `external_id` (a new customer needs `email`). A
`signup` sets the customer's sign-up time if it has none. A `purchase` needs an `order`,
which is recorded once per order `external_id` and counted once in the customer's order
count and total spent. Any other lower-case `type` (e.g. `refund`, `wishlist.added`) is
stored as it is, with its `properties`.

**Lines.** A purchase's `order` may carry `items`: `[{"sku", "quantity", "price"}]`, 1 to
{LINES_MAX}, with an optional `total` (must equal quantity × price) and `currency` (must be
the order's). They are stored once, with the order when it is new; their sum may differ
from `amount` (discounts, shipping). A SKU not in the catalogue yet is kept and linked when
`POST /products` brings it. Other events may carry `items` of the same shape (`price`
optional, `quantity` 1 by default): the cart of `checkout.started` and `cart.updated`, the
products of `product.viewed` (or `properties.sku` as a shorthand for one line). A `refund`
or `order_cancelled` naming its order in `properties.order` may list the lines refunded,
`[{"sku", "quantity"}]`: a SKU not on that order, or more than was bought, is refused. A
refund without `items` refunds the whole order (its points are taken back); with `items`
only those lines, and the order stays placed until every line is refunded.

**Batches are all or nothing.** Every item is validated first; if any item is bad,
nothing is stored and the answer is `400` listing every problem with its `index` and
`field`. Otherwise all items are stored in one transaction.

**Idempotency.** Give each event a stable `event_id`. An `event_id` that is already
stored (or repeated within the batch) is a no-op: it changes nothing and is reported as
`"duplicate"`, so a retry is always safe, even when two arrive at once.

**Status.** `201` when at least one event was stored, `200` when every item was a
duplicate. `accepted` counts the events stored, `duplicates` the others; `results` has
one entry per item, in the order posted.
"""

CUSTOMERS_DESCRIPTION = """
Create or update one customer, matched by `external_id`. Fields you leave out keep their
value; `null` clears an optional profile field. `email` is required when the customer is
new. Consent answers are recorded with source `api`; a topic left out keeps its state.

`201` when the customer was created, `200` when an existing one was updated.
"""

PRODUCTS_DESCRIPTION = f"""
Post one product object, or a list of 1 to {BATCH_MAX_PRODUCTS} of them. Each is created
or updated by its `sku`; fields you leave out keep their stored value, `null` clears an
optional one. Posting the same products again changes nothing (every result `unchanged`).

`url` and `image_url` must be absolute `http` or `https` URLs; `price` needs `currency`;
`category` is a path such as `Kitchen > Knives` (`Kitchen>Knives` is stored the same way).
`names` gives the name per language (`{{"sv": "Kockkniv", "nb": "Kokkekniv"}}`), used for
customers with that language; `attributes` is a flat object of scalars.

Order and cart lines that named a SKU before its product arrived are linked to it in the
same transaction.

**Batches are all or nothing**: any bad item (or a SKU given twice) makes the answer `400`
listing every problem with its `index` and `field`; nothing is stored.

**Status.** `201` when at least one product was created, `200` otherwise; `results` has
one entry per item, in the order posted: `created`, `updated` or `unchanged`.
"""


class BodyRefused(ValueError):
    """A body that is JSON but cannot be taken as it is; `errors` in the API's format."""

    def __init__(self, errors: list[dict]):
        super().__init__(errors[0]["message"])
        self.errors = errors


def _finite_number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BodyRefused([{"field": "", "message": "A number in the body is beyond the "
                            "range of a double (about 1.8e308); send a smaller one."}])
    return value


def _not_a_json_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")


def _unstorable_errors(document, problems: list[Unstorable]) -> list[dict]:
    errors = []
    for problem in problems:
        path = list(problem.path)
        error = {}
        # An item of a posted list (a batch) is named by its index, as validation does.
        if isinstance(document, list) and path:
            error["index"] = path.pop(0)
        error.update(field=field_path(path), message=problem.message)
        errors.append(error)
    return errors


class StorableJsonParser(Parser):
    """JSON as the standard says (no NaN or Infinity) and only text the database can store.

    Checked before validation, for every body of every operation: pydantic passes NUL and
    lone surrogates through, and `properties` and `attributes` are free-form.
    """

    def parse_body(self, request: HttpRequest):
        body = request.body
        document = json.loads(body, parse_float=_finite_number,
                              parse_constant=_not_a_json_constant)
        # In UTF-8 JSON a NUL or a lone surrogate can only be written as a \u escape (raw,
        # one is a syntax error and the other not UTF-8), so most bodies skip the walk.
        if b"\\u" in body or json.detect_encoding(body) != "utf-8":
            if problems := unstorable_find(document):
                raise BodyRefused(_unstorable_errors(document, problems))
        return document


api = NinjaAPI(
    title="Loyalty CRM API",
    version="1",
    urls_namespace="api",
    description=API_DESCRIPTION,
    parser=StorableJsonParser(),
)

ERROR_RESPONSES = {400: ErrorsOut, 401: ErrorsOut, 413: ErrorsOut}


class ApiKeyAuth(HttpBearer):
    """Bearer API keys. Never logs the header, whatever DEBUG says."""

    openapi_bearerFormat = "lcrm_…"
    openapi_description = (
        "An API key from the admin or `manage.py create_api_key NAME`."
    )

    def __call__(self, request: HttpRequest) -> ApiKey:
        header = request.headers.get(self.header, "")
        scheme, _, token = header.strip().partition(" ")
        if not header:
            raise AuthenticationError(
                message="Send your API key as `Authorization: Bearer <key>`."
            )
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError(
                message="Use the Bearer scheme: `Authorization: Bearer <key>`."
            )
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey:
        api_key = api_key_authenticate(plaintext=token)
        if api_key is None:
            raise AuthenticationError(message="The API key is unknown or revoked.")
        return api_key


def _errors(request: HttpRequest, errors: list[dict], *, status: int) -> HttpResponse:
    return api.create_response(request, {"errors": errors}, status=status)


@api.exception_handler(ValidationError)
def _validation_failed(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = []
    for error in exc.errors:
        # The location starts with ("body", <parameter name>); the rest is the path.
        index, field = error_field_path(error["loc"][2:])
        noun = "product" if request.path.rstrip("/").endswith("/products") else "event"
        message = error_message(error["type"], field, error["msg"], noun)
        errors.append({"index": index, "field": field, "message": message})
    return _errors(
        request,
        [e if e["index"] is not None else _without_index(e) for e in errors],
        status=400,
    )


@api.exception_handler(IngestRejected)
def _ingest_rejected(request: HttpRequest, exc: IngestRejected) -> HttpResponse:
    return _errors(request, exc.errors, status=400)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    message = (
        exc.message if exc.message != "Unauthorized" else "A valid API key is required."
    )
    response = _errors(request, [{"field": "", "message": message}], status=401)
    response["WWW-Authenticate"] = 'Bearer realm="Loyalty CRM API"'
    return response


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    message = exc.message
    if exc.status_code == 400 and isinstance(exc.__cause__, BodyRefused):
        return _errors(request, exc.__cause__.errors, status=400)
    # ninja wraps the JSON decoder's complaint; the cause says where the syntax breaks.
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
        message = f"The body is not valid JSON: {exc.__cause__}"
    return _errors(request, [{"field": "", "message": message}], status=exc.status_code)


def _without_index(error: dict) -> dict:
    return {key: value for key, value in error.items() if key != "index"}


@api.post(
    "/events",
    auth=ApiKeyAuth(),
    response={200: EventsOut, 201: EventsOut, **ERROR_RESPONSES},
    summary="Send events (one or a batch)",
    description=EVENTS_DESCRIPTION,
    tags=["events"],
)
def events_post(request: HttpRequest, payload: Body[EventsPayload]):
    is_batch = isinstance(payload, list)
    items = payload if is_batch else [payload]
    try:
        results = events_ingest(
            events=[item.model_dump(exclude_unset=True) for item in items],
            source=ConsentSource.API,
        )
    except IngestRejected as exc:
        # An index means something only to a batch.
        errors = exc.errors if is_batch else [_without_index(e) for e in exc.errors]
        return _errors(request, errors, status=400)
    accepted = sum(result.status == CREATED for result in results)
    body = {
        "accepted": accepted,
        "duplicates": len(results) - accepted,
        "results": [
            {"index": r.index, "event_id": r.event_id, "status": r.status}
            for r in results
        ],
    }
    return Status(201 if accepted else 200, body)


@api.post(
    "/customers",
    auth=ApiKeyAuth(),
    response={200: CustomerOut, 201: CustomerOut, **ERROR_RESPONSES},
    summary="Create or update a customer",
    description=CUSTOMERS_DESCRIPTION,
    tags=["customers"],
)
def customers_post(request: HttpRequest, payload: Body[CustomerIn]):
    customer, created = customer_upsert(
        data=payload.model_dump(exclude_unset=True), source=ConsentSource.API
    )
    logger.info("Customer %s through the API", "created" if created else "updated")
    body = {"external_id": customer.external_id, "created": created}
    return Status(201 if created else 200, body)


@api.post(
    "/products",
    auth=ApiKeyAuth(),
    response={200: ProductsOut, 201: ProductsOut, **ERROR_RESPONSES},
    summary="Create or update products (one or a batch)",
    description=PRODUCTS_DESCRIPTION,
    tags=["products"],
    openapi_extra={"requestBody": {"content": {"application/json": {"examples": {
        "one": {"summary": "One product", "value": {
            "sku": "KN-200", "name": "Chef's knife 20 cm",
            "names": {"sv": "Kockkniv 20 cm", "nb": "Kokkekniv 20 cm"},
            "url": "https://shop.example/p/kn-200",
            "image_url": "https://shop.example/img/kn-200.jpg", "price": "899.00",
            "currency": "SEK", "category": "Kitchen > Knives", "brand": "Morakniv"}},
        "batch": {"summary": "A batch", "value": [
            {"sku": "KN-200", "name": "Chef's knife 20 cm", "price": "899.00",
             "currency": "SEK", "category": "Kitchen > Knives"},
            {"sku": "CB-40", "name": "Cutting board", "in_stock": False,
             "attributes": {"material": "oak"}}]},
    }}}}},
)
def products_post(request: HttpRequest, payload: Body[ProductsPayload]):
    is_batch = isinstance(payload, list)
    items = payload if is_batch else [payload]
    try:
        results = products_upsert(
            products=[item.model_dump(exclude_unset=True) for item in items])
    except IngestRejected as exc:
        errors = exc.errors if is_batch else [_without_index(e) for e in exc.errors]
        return _errors(request, errors, status=400)
    counts = {status: sum(r.status == status for r in results)
              for status in ("created", "updated", "unchanged")}
    body = {**counts, "results": [{"index": r.index, "sku": r.sku, "status": r.status}
                                  for r in results]}
    return Status(201 if counts["created"] else 200, body)


COUPONS_DESCRIPTION = """
Use a coupon code on an order of the customer it was issued to. `200` with `status`
`redeemed`; a retry for the same order is `200` with `already_redeemed` and changes
nothing. `404` for an unknown code; `409` when the code was used on another order, has
expired, or belongs to another customer. Two redeems at once: exactly one wins.
"""


@api.post(
    "/coupons/redeem",
    auth=ApiKeyAuth(),
    response={200: CouponRedeemOut, 404: ErrorsOut, 409: ErrorsOut, **ERROR_RESPONSES},
    summary="Redeem a coupon code",
    description=COUPONS_DESCRIPTION,
    tags=["coupons"],
)
def coupons_redeem(request: HttpRequest, payload: Body[CouponRedeemIn]):
    try:
        redemption = coupon_redeem(
            code=payload.code, customer_external_id=payload.customer_external_id,
            order_id=payload.order_id, now=clock.now(),
        )
    except CouponNotFound as exc:
        return _errors(request, [{"field": "code", "message": str(exc)}], status=404)
    except CouponRejected as exc:
        return _errors(request, [{"field": "code", "message": str(exc)}], status=409)
    coupon = redemption.coupon
    return Status(200, {"code": coupon.code, "status": redemption.status,
                        "order_id": coupon.redeemed_order, "redeemed_at": coupon.redeemed_at})
