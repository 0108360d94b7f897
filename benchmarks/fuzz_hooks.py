"""schemathesis hooks for make fuzz: the positive-data check, with the API's documented
rules that no JSON Schema can state."""
import schemathesis

# A 400 for valid-looking data is right only for these, each written in the API's
# description: rules over time and over what is stored, free-form text (properties) that
# the schema does not follow to every depth, and lone surrogates, which no pattern can
# name portably (see api_schemas.STORABLE_TEXT). The second and third are the wording of
# campaigns/services/events.py and customers.py.
RULES_BEYOND_THE_SCHEMA = (
    "more than 1 day in the future",             # occurred_at, signed_up_at: the clock
    "Required: no customer has this external_id yet.",  # a new customer needs an email
    "recorded for another customer",             # an order id used by another customer
    "which cannot be stored",                    # NUL deep inside properties
    "which is not a character",                  # a lone surrogate, anywhere
    # Lines (campaigns/services/lines.py, api_schemas.EventLineIn): arithmetic, the
    # order's currency and what a refund's order holds.
    "A line total that does not match",
    "A line total needs the line's unit price.",
    "The line's currency differs from the order's",
    "of this customer.",                         # a refunded SKU not on that order
    "More than was bought",
    "Name the order whose lines are refunded",
    "Give the viewed product's SKU as text",
    "This SKU is already given at index",        # a product twice in one batch
    "The category path is longer than",          # "a>b" is stored as "a > b"
)


@schemathesis.check
def positive_data_accepted(ctx, response, case):
    """Valid data is accepted (2xx); the coupon's 404 and 409 are answers about data, and
    a 400 only for the rules above."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code < 300 or response.status_code in (401, 404, 409):
        return None
    if response.status_code == 400:
        errors = response.json().get("errors", [])
        if errors and all(any(rule in e["message"] for rule in RULES_BEYOND_THE_SCHEMA)
                          for e in errors):
            return None
    raise AssertionError(f"Valid data was refused with {response.status_code}: "
                         f"{response.text[:500]}")
