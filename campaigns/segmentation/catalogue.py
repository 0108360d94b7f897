"""Pure: the one definition of what a segment rule may ask — fields, types, operators, choices.

The validator, the compiler, the explanation and the admin's rule builder (which receives
`catalogue_data()` as JSON) all read this module, so they cannot disagree.
"""
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

# Operators: JSON name -> (words for a marketer, what value it takes).
# Value kinds: none, one, list (one or more), pair ([from, to]), days (whole days >= 1).
OPERATORS: dict[str, tuple[str, str]] = {
    "is": ("is", "one"),
    "is_not": ("is not", "one"),
    "in": ("is one of", "list"),
    "not_in": ("is none of", "list"),
    "contains": ("contains", "one"),
    "starts_with": ("starts with", "one"),
    "=": ("=", "one"),
    "!=": ("≠", "one"),
    ">": (">", "one"),
    ">=": ("≥", "one"),
    "<": ("<", "one"),
    "<=": ("≤", "one"),
    "between": ("between", "pair"),
    "before": ("before", "one"),
    "after": ("after", "one"),
    "on": ("on", "one"),
    "in_last_days": ("in the last … days", "days"),
    "more_than_days_ago": ("more than … days ago", "days"),
    "did": ("did it", "none"),
    "did_not": ("did not do it", "none"),
    "given": ("is given for", "one"),
    "not_given": ("is not given for", "one"),
    "is_empty": ("is empty / unknown", "none"),
    "is_set": ("is set / known", "none"),
}

NUMBER_OPS = ("=", "!=", ">", ">=", "<", "<=", "between")
# Operators per value type; a nullable field also gets is_empty / is_set.
TYPE_OPERATORS: dict[str, tuple[str, ...]] = {
    "text": ("is", "is_not", "in", "not_in", "contains", "starts_with"),
    "choice": ("is", "is_not", "in", "not_in"),
    "number": NUMBER_OPS,
    "date": ("before", "after", "on", "between", "in_last_days", "more_than_days_ago"),
    "boolean": ("is",),
    "event": ("did", "did_not", *NUMBER_OPS),
    "count": ("did", "did_not", ">=", "<=", "=", ">", "<", "!=", "between"),
    "consent": ("given", "not_given"),
}
TYPE_WORDS = {
    "text": "a text", "choice": "a choice", "number": "a number", "date": "a date",
    "boolean": "a yes/no", "event": "an event count", "consent": "a consent",
    "count": "a count",
}

# Time windows for order aggregates and events.
PERIODS = {
    "this_month": "this month", "last_month": "last month",
    "this_quarter": "this quarter", "last_quarter": "last quarter",
    "this_year": "this year", "last_year": "last year",
}

LOCALES = (
    ("sv", "Swedish (sv)"), ("nb", "Norwegian Bokmål (nb)"), ("nn", "Norwegian Nynorsk (nn)"),
    ("da", "Danish (da)"), ("fi", "Finnish (fi)"), ("is", "Icelandic (is)"), ("en", "English (en)"),
    ("de", "German (de)"), ("nl", "Dutch (nl)"), ("fr", "French (fr)"), ("es", "Spanish (es)"),
    ("it", "Italian (it)"), ("pl", "Polish (pl)"), ("et", "Estonian (et)"), ("lv", "Latvian (lv)"),
    ("lt", "Lithuanian (lt)"),
)
COUNTRIES = (
    ("SE", "Sweden"), ("NO", "Norway"), ("DK", "Denmark"), ("FI", "Finland"), ("IS", "Iceland"),
    ("DE", "Germany"), ("NL", "Netherlands"), ("BE", "Belgium"), ("FR", "France"),
    ("GB", "United Kingdom"), ("IE", "Ireland"), ("ES", "Spain"), ("PT", "Portugal"),
    ("IT", "Italy"), ("AT", "Austria"), ("CH", "Switzerland"), ("PL", "Poland"),
    ("EE", "Estonia"), ("LV", "Latvia"), ("LT", "Lithuania"), ("US", "United States"),
    ("CA", "Canada"), ("AU", "Australia"),
)
LIFECYCLE_STAGES = (
    ("prospect", "Prospect (no order yet)"), ("new", "New"), ("active", "Active"),
    ("loyal", "Loyal"), ("at_risk", "At risk"), ("lapsed", "Lapsed"), ("won_back", "Won back"),
)
TOPICS = (
    ("marketing", "All marketing"), ("offers", "Offers"), ("surveys", "Surveys"),
    ("loyalty", "Loyalty news"),
)
NPS_GROUPS = (
    ("promoter", "Promoter (9–10)"), ("passive", "Passive (7–8)"), ("detractor", "Detractor (0–6)"),
)
NPS_GROUP_RANGES = {"promoter": (9, 10), "passive": (7, 8), "detractor": (0, 6)}
EVENT_TYPES = ("signup", "purchase", "refund", "order_cancelled", "support_closed")


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    group: str
    type: str
    nullable: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    # Strict: only the listed choices are valid. Otherwise they are suggestions and
    # `pattern_words` says what a valid value looks like.
    strict: bool = True
    integer: bool = False
    minimum: float | None = None
    maximum: float | None = None
    window: bool = False
    # Takes what it is about: a "sku", a "category" (with everything under it) or a "brand".
    product: bool = False
    help: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def operators(self) -> tuple[str, ...]:
        ops = TYPE_OPERATORS[self.type]
        if self.nullable:
            ops = (*ops, "is_empty", "is_set")
        return ops


FIELDS: tuple[Field, ...] = (
    # Customer profile.
    Field("locale", "language", "Customer", "choice", nullable=True, choices=LOCALES,
          strict=False, help="The customer's language code, e.g. sv, nb, en."),
    Field("country", "country", "Customer", "choice", nullable=True, choices=COUNTRIES,
          strict=False, help="Two-letter country code, e.g. SE."),
    Field("time_zone", "time zone", "Customer", "text", nullable=True,
          help="IANA name such as Europe/Stockholm; 'starts with' Europe/ works too."),
    Field("signed_up_at", "signed up", "Customer", "date", nullable=True),
    Field("tier", "loyalty tier", "Customer", "text", nullable=True),
    Field("points_balance", "points balance", "Customer", "number", integer=True),
    Field("marketing_consent", "marketing consent", "Customer", "boolean"),
    # Orders: all time from the customer's lifecycle facts (every order placed), or in a
    # time window from the orders themselves (refunded and cancelled orders left out).
    Field("order_count", "number of orders", "Orders", "number", integer=True, minimum=0,
          window=True),
    Field("total_spent", "total spent", "Orders", "number", minimum=0, window=True),
    Field("avg_order_value", "average order value", "Orders", "number", minimum=0,
          window=True, help="Customers without orders (in the window) have none."),
    Field("first_order_at", "first order", "Orders", "date", nullable=True),
    Field("last_order_at", "last order", "Orders", "date", nullable=True),
    # Behaviour.
    Field("event", "event", "Events", "event", window=True,
          help="Did (or did not) do an event of a type, or how many times.",
          extra={"event_types": EVENT_TYPES}),
    # Surveys: the latest NPS answer.
    Field("nps_score", "latest NPS score", "Surveys", "number", nullable=True, integer=True,
          minimum=0, maximum=10),
    Field("nps_group", "latest NPS group", "Surveys", "choice", nullable=True,
          choices=NPS_GROUPS),
    # Consent per topic.
    Field("consent", "consent", "Consent", "consent", choices=TOPICS,
          help="Marketing consent, and not unsubscribed from the topic."),
    # Scores (computed nightly).
    Field("rfm_recency", "RFM recency", "Scores", "number", nullable=True, integer=True,
          minimum=1, maximum=5),
    Field("rfm_frequency", "RFM frequency", "Scores", "number", nullable=True, integer=True,
          minimum=1, maximum=5),
    Field("rfm_monetary", "RFM monetary", "Scores", "number", nullable=True, integer=True,
          minimum=1, maximum=5),
    Field("lifecycle_stage", "lifecycle stage", "Scores", "choice", nullable=True,
          choices=LIFECYCLE_STAGES, help="'is empty' = not scored yet."),
)

# Products: from order lines (placed orders; refunded items left out) and viewed products.
PRODUCT_TARGETS = (("category", _("category")), ("brand", _("brand")),
                   ("sku", _("product (SKU)")))
# How a count reads in the builder ("bought: at least 3 items").
COUNT_OP_LABELS = {"did": _("at least once"), "did_not": _("never"), ">=": _("at least"),
                   "<=": _("at most"), "=": _("exactly"), ">": _("more than"),
                   "<": _("fewer than"), "!=": _("not exactly"), "between": _("between")}
PRODUCT_FIELDS: tuple[Field, ...] = (
    Field("bought", _("bought (items)"), _("Products"), "count", window=True, product=True,
          help=_("Counts items, not orders: two knives in one order count 2. Placed orders "
                 "only; refunded items do not count. “never” = did not buy it."),
          extra={"op_labels": COUNT_OP_LABELS, "unit": _("items")}),
    Field("viewed", _("viewed (times)"), _("Products"), "count", window=True, product=True,
          help=_("How many times the customer viewed it (product.viewed events)."),
          extra={"op_labels": COUNT_OP_LABELS, "unit": _("times")}),
    Field("spent_on", _("spent on"), _("Products"), "number", minimum=0, window=True,
          product=True,
          help=_("Quantity × the line's price of the items bought (placed orders, refunded "
                 "items left out; lines without a price are skipped)."),
          extra={"op_labels": COUNT_OP_LABELS}),
)
FIELDS = FIELDS + PRODUCT_FIELDS
FIELDS_BY_KEY = {f.key: f for f in FIELDS}

# AttributeDefinition.type -> the rule type it is compared as.
ATTRIBUTE_TYPES = {"text": "text", "number": "number", "date": "date", "boolean": "boolean"}


def attribute_field(key: str, type_: str, label: str = "") -> Field:
    """The catalogue entry for a custom attribute (missing values count as empty)."""
    return Field(f"attribute:{key}", label or key.replace("_", " "), "Custom attributes",
                 ATTRIBUTE_TYPES[type_], nullable=True)


def category_path(text: str) -> str:
    """The path as the catalogue writes it: "kitchen>Knives " -> "kitchen > Knives"."""
    return " > ".join(part.strip() for part in text.split(">"))


def catalogue_data(attributes: dict[str, tuple[str, str]] | None = None) -> dict:
    """Everything the rule builder needs, as plain JSON-ready data.

    `attributes` maps an attribute key to (type, label), from AttributeDefinition.
    """
    fields = list(FIELDS) + [
        attribute_field(key, type_, label) for key, (type_, label) in sorted((attributes or {}).items())
    ]
    return {
        "operators": {name: {"label": label, "value": kind} for name, (label, kind) in OPERATORS.items()},
        "periods": PERIODS,
        "fields": [
            {
                "key": f.key, "label": f.label, "group": f.group, "type": f.type,
                "operators": list(f.operators), "choices": [list(c) for c in f.choices],
                "strict": f.strict, "integer": f.integer, "min": f.minimum, "max": f.maximum,
                "window": f.window, "product": f.product, "help": f.help, **f.extra,
            }
            for f in fields
        ],
        "product_targets": [list(t) for t in PRODUCT_TARGETS],
        "words": {
            "suggest": _("start typing for suggestions from the catalogue"),
            "warnings": _("Note:"),
        },
    }
