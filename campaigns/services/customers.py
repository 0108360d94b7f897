"""Creating and updating customers from the shop's data, consent included."""

import datetime as dt
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, DecimalField, Max, Min, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from campaigns import clock
from campaigns.exceptions import CampaignsError
from campaigns.attributes import AttributeValueError, attribute_coerce
from campaigns.models import AttributeDefinition, Customer, Order, Subscription, Topic
from campaigns.services.bulk import filter_in, insert_statement, pg_execute, rows_insert
from campaigns.services.consent import consent_opt_out_offered, consent_record
from campaigns.services.referral_attribution import referrals_attribute
from campaigns.services.subscriptions import double_opt_in_required, subscription_request_create

# Profile fields copied as given; None clears them (to "" for text, NULL for times).
PROFILE_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "locale",
    "time_zone",
    "country",
    "signed_up_at",
)
NULLABLE_FIELDS = {"signed_up_at"}


class IngestRejected(CampaignsError):
    """Data the domain refuses; nothing was stored.

    `errors` holds one dict per problem: {"field": dotted path, "message": text} and,
    for an item of a batch, "index".
    """

    def __init__(self, errors: list[dict]):
        super().__init__(f"{len(errors)} problem(s) in the data; nothing was stored")
        self.errors = errors


def customer_upsert(
    *, data: dict, source: str, at: dt.datetime | None = None
) -> tuple[Customer, bool]:
    """Create or update the customer `data["external_id"]`; return (customer, created).

    Keys absent from `data` keep their stored value. A new customer needs an email,
    otherwise IngestRejected is raised. Consent answers go through `consent_record`
    with `source`; `at` is when they were given (default now), and an answer older than
    the stored state of its topic is ignored, so a late webhook cannot undo a newer
    withdrawal. The customer row stays locked until the caller's transaction ends.

    A `referral_code` counts only when this call creates the customer
    (`referral_attribution.referrals_attribute`); for a stored customer it changes nothing.
    """
    if data.get("attributes"):
        values, errors = attributes_typed(attributes=data["attributes"])
        if errors:
            raise IngestRejected(errors)
        data = {**data, "attributes": values}
    with transaction.atomic():
        customer, created = _customer_lock_or_create(data)
        if not created:
            changed = _profile_apply(customer, data)
            if changed:
                customer.save(update_fields=changed)
        if created and data.get("referral_code"):
            referrals_attribute(
                new_customers=[(customer.pk, customer.email, data["referral_code"])],
                source=source, now=clock.now())
        if data.get("opt_out_offered"):
            consent_opt_out_offered(customer=customer, at=at)
        if data.get("consent"):
            _consent_apply(
                customer=customer,
                answers=data["consent"],
                source=source,
                at=min(at or clock.now(), clock.now()),
                confirm=double_opt_in_required(
                    source=source, email_verified=data.get("email_verified")
                ),
                wording_version=data.get("wording_version") or "",
                method="email_verified" if data.get("email_verified") else "",
            )
    return customer, created


def attribute_types(*, keys) -> dict[str, str]:
    """The declared type of each of `keys` that has an AttributeDefinition."""
    return dict(AttributeDefinition.objects.filter(key__in=list(keys)).values_list("key", "type"))


def attributes_typed(
    *, attributes: dict, types: dict[str, str] | None = None
) -> tuple[dict, list[dict]]:
    """Declared attributes read as their type (`attribute_coerce`), others kept as given.

    Returns (values, errors); each error names its field as "attributes.<key>". A null
    value stays null (it removes the attribute). `types` saves the query for batches.
    """
    if types is None:
        types = attribute_types(keys=attributes)
    values, errors = {}, []
    for key, value in attributes.items():
        if key not in types or value is None:
            values[key] = value
            continue
        try:
            values[key] = attribute_coerce(types[key], value)
        except AttributeValueError as exc:
            errors.append({"field": f"attributes.{key}", "message": str(exc)})
    return values, errors


def _customer_lock_or_create(data: dict) -> tuple[Customer, bool]:
    external_id = data["external_id"]
    customer = (
        Customer.objects.select_for_update().filter(external_id=external_id).first()
    )
    if customer is not None:
        return customer, False
    if not data.get("email"):
        raise IngestRejected(
            [
                {
                    "field": "email",
                    "message": "Required: no customer has this external_id yet.",
                }
            ]
        )
    customer = Customer(external_id=external_id)
    _profile_apply(customer, data)
    try:
        # A savepoint, so that losing a race to a concurrent create leaves the outer
        # transaction usable.
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        customer = Customer.objects.select_for_update().get(external_id=external_id)
        changed = _profile_apply(customer, data)
        if changed:
            customer.save(update_fields=changed)
        return customer, False
    return customer, True


def _profile_apply(customer: Customer, data: dict) -> list[str]:
    """Copy the given profile fields and attributes onto `customer`; name changes."""
    changed = []
    for field in PROFILE_FIELDS:
        if field not in data:
            continue
        value = data[field]
        if value is None and field == "email":
            continue  # A customer always keeps an address.
        if value is None and field not in NULLABLE_FIELDS:
            value = ""
        if getattr(customer, field) != value:
            setattr(customer, field, value)
            changed.append(field)
    if data.get("attributes"):
        # Merged key by key; a null value removes the key.
        attributes = {**customer.attributes}
        for key, value in data["attributes"].items():
            if value is None:
                attributes.pop(key, None)
            else:
                attributes[key] = value
        if attributes != customer.attributes:
            customer.attributes = attributes
            changed.append("attributes")
    return changed


def _consent_apply(
    *, customer: Customer, answers: dict, source: str, at: dt.datetime, confirm: bool, **proof
) -> None:
    """Record the answers; with `confirm`, a new "yes" waits for its double opt-in.

    A "no" always counts at once. A "yes" already in effect needs no confirmation.
    """
    given = {
        topic: granted for topic, granted in answers.items() if granted is not None
    }
    if confirm:
        current = dict(Subscription.objects.filter(customer=customer).values_list("topic", "subscribed"))
        asked = [t for t, granted in given.items() if granted and not current.get(t)]
        given = {t: granted for t, granted in given.items() if not granted}
        if asked:
            subscription_request_create(
                email=customer.email, topics=asked, source=source, customer=customer,
                first_name=customer.first_name, locale=customer.locale,
                wording_version=proof.get("wording_version", ""),
            )
    newer = set(
        Subscription.objects.filter(
            customer=customer, topic__in=list(given), updated_at__gt=at
        ).values_list("topic", flat=True)
    )
    # The global switch first: topic answers are read against it.
    for topic in sorted(given, key=lambda t: t != Topic.MARKETING):
        if topic not in newer:
            consent_record(
                customer=customer,
                topic=topic,
                granted=given[topic],
                source=source,
                at=at,
                **proof,
            )


def customers_order_facts_refresh(*, customer_ids: list[int]) -> int:
    """Recompute order count, total spent and first / last order time from the orders.

    Set-based (one UPDATE with subqueries) for the given customers, whose rows are locked
    in id order first, so an order the API records meanwhile is either seen or waits.
    Cancelled orders do not count. Used after bulk order imports; the API path adds each
    new order to these facts incrementally (services.events), which agrees with this.
    """
    ids = sorted(set(customer_ids))
    if not ids:
        return 0
    list(filter_in(Customer.objects.select_for_update(), "id", ids).order_by("pk")
         .values_list("pk", flat=True))
    if connection.vendor == "postgresql":
        return _order_facts_refresh_postgresql(ids)
    orders = (Order.objects.filter(customer_id=OuterRef("pk"))
              .exclude(status=Order.Status.CANCELLED).order_by().values("customer_id"))
    money = DecimalField(max_digits=14, decimal_places=2)
    return Customer.objects.filter(pk__in=ids).update(
        order_count=Coalesce(Subquery(orders.annotate(n=Count("id")).values("n")), 0),
        total_spent=Coalesce(Subquery(orders.annotate(s=Sum("amount")).values("s")),
                             Value(Decimal("0"), output_field=money), output_field=money),
        first_order_at=Subquery(orders.annotate(m=Min("placed_at")).values("m")),
        last_order_at=Subquery(orders.annotate(m=Max("placed_at")).values("m")),
    )


def orders_create_counted(*, rows: list[dict]) -> None:
    """Insert new orders (full rows, as for `rows_insert`) and add them to their
    customers' order facts, as the API adds each new order (services.events).

    On PostgreSQL one statement inserts the orders and updates each customer once, by the
    sums of their new orders, with the customer rows locked in id order; the facts are
    not recomputed from every order of the customer (which reads them all again). Call
    it only for orders that are not stored yet; a changed order needs
    `customers_order_facts_refresh`.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        rows_insert(Order, rows)
        customers_order_facts_refresh(customer_ids=[row["customer_id"] for row in rows])
        return
    insert, params = insert_statement(
        Order, rows, returning=("customer_id", "amount", "placed_at", "status"))
    customers = Customer._meta.db_table
    pg_execute(
        f"""WITH new AS ({insert}),
            sums AS (SELECT customer_id, count(*) AS n, sum(amount) AS spent,
                            min(placed_at) AS first, max(placed_at) AS last
                     FROM new WHERE status <> %s GROUP BY customer_id),
            locked AS (SELECT id FROM {customers} WHERE id IN (SELECT customer_id FROM sums)
                       ORDER BY id FOR UPDATE)
            UPDATE {customers} AS c SET order_count = c.order_count + s.n,
                total_spent = c.total_spent + s.spent,
                first_order_at = least(c.first_order_at, s.first),
                last_order_at = greatest(c.last_order_at, s.last)
            FROM sums AS s JOIN locked AS l ON l.id = s.customer_id
            WHERE c.id = s.customer_id""",
        [*params, Order.Status.CANCELLED])


def _order_facts_refresh_postgresql(ids: list[int]) -> int:
    """The same in one UPDATE … FROM a lateral aggregate: one index scan per customer
    instead of one per fact."""
    customers, orders = Customer._meta.db_table, Order._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {customers} AS c SET order_count = a.n, total_spent = a.spent,
                    first_order_at = a.first, last_order_at = a.last
                FROM unnest(%s::bigint[]) AS ids(id)
                CROSS JOIN LATERAL (
                    SELECT count(*) AS n, coalesce(sum(o.amount), 0) AS spent,
                           min(o.placed_at) AS first, max(o.placed_at) AS last
                    FROM {orders} AS o
                    WHERE o.customer_id = ids.id AND o.status <> %s) AS a
                WHERE c.id = ids.id""",
            [ids, Order.Status.CANCELLED],
        )
        return cursor.rowcount
