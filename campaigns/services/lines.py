"""The lines of an events batch: an order's lines, a cart's or a viewed product's, and the
lines a refund names; checked before anything is written, stored set-based."""
import dataclasses
import datetime as dt
from decimal import Decimal

from pydantic_core import PydanticCustomError

from campaigns.api_schemas import sku_checked
from campaigns.models import EventLine, Order, OrderLine, Product
from campaigns.services.bulk import filter_in, rows_insert, rows_update
from campaigns.services.loyalty import REVERSING_EVENTS

PURCHASE = "purchase"
PRODUCT_VIEWED = "product.viewed"


@dataclasses.dataclass
class LinesPlan:
    """What the refunds of a batch do to order lines, decided before any write."""

    # A stored line's new refunded quantity, by line id.
    stored_refunded: dict[int, int] = dataclasses.field(default_factory=dict)
    # A line of an order created by this batch: refunded quantity by (order, position).
    new_refunded: dict[tuple[str, int], int] = dataclasses.field(default_factory=dict)
    # Indexes of refund items that leave some line of their order unrefunded.
    partial: set[int] = dataclasses.field(default_factory=set)


def _order_lines(data: dict) -> list[dict]:
    return (data.get("order") or {}).get("items") or []


def lines_check(items: list[tuple[int, dict]], stored_orders: set[str]
                ) -> tuple[list[tuple[int, dict]], list[dict], LinesPlan]:
    """The items (a `product.viewed` with `properties.sku` given its one line), every
    reason to refuse their lines, and what their refunds do; one query at most (the
    stored lines of the orders that refunds name)."""
    errors, checked = [], []
    for index, data in items:
        order = data.get("order")
        for position, line in enumerate(_order_lines(data)):
            if line.get("currency") and line["currency"] != order["currency"]:
                errors.append({
                    "index": index, "field": f"order.items[{position}].currency",
                    "message": f"The line's currency differs from the order's "
                               f"({order['currency']})."})
        sku = (data.get("properties") or {}).get("sku")
        if data["type"] == PRODUCT_VIEWED and not data.get("items") and sku is not None:
            try:
                data = {**data, "items": [{"sku": sku_checked(sku) if isinstance(sku, str)
                                           else sku_checked("")}]}
            except PydanticCustomError as exc:
                errors.append({"index": index, "field": "properties.sku",
                               "message": "Give the viewed product's SKU as text: "
                                          + exc.message()})
        checked.append((index, data))
    plan = LinesPlan()
    errors += _refunds_check(checked, stored_orders, plan)
    return checked, errors, plan


def _refunds_check(items, stored_orders: set[str], plan: LinesPlan) -> list[dict]:
    refunds = [(index, data) for index, data in items
               if data["type"] in REVERSING_EVENTS and data.get("items")]
    if not refunds:
        return []
    errors = []
    # What is left to refund of each line, by (customer, order) then SKU, in line order:
    # [line key, bought, refunded]; a key is a stored line's id or (order, position).
    lines: dict[tuple[str, str], dict[str, list[list]]] = {}
    named = sorted({str((data.get("properties") or {}).get("order") or "")
                    for _, data in refunds} - {""})
    if named:
        for pk, owner, order, sku, quantity, refunded in OrderLine.objects.filter(
                order__in=filter_in(Order.objects, "external_id", named)).order_by(
                "pk").values_list(
                "pk", "order__customer__external_id", "order__external_id", "sku",
                "quantity", "refunded_quantity"):
            lines.setdefault((owner, order), {}).setdefault(sku, []).append(
                [pk, quantity, refunded])
    counted = set(stored_orders)
    for index, data in items:
        customer = data["customer"]["external_id"]
        order = data.get("order")
        if order and order["external_id"] not in counted:
            counted.add(order["external_id"])
            for position, line in enumerate(order.get("items") or []):
                lines.setdefault((customer, order["external_id"]), {}).setdefault(
                    line["sku"], []).append([(order["external_id"], position),
                                             line["quantity"], 0])
        if not (data["type"] in REVERSING_EVENTS and data.get("items")):
            continue
        reference = str((data.get("properties") or {}).get("order") or "")
        if not reference:
            errors.append({"index": index, "field": "properties.order", "message":
                           "Name the order whose lines are refunded (the shop's order id)."})
            continue
        of_order = lines.get((customer, reference), {})
        for position, item in enumerate(data["items"]):
            wanted = item.get("quantity", 1)
            candidates = of_order.get(item["sku"])
            if not candidates:
                errors.append({"index": index, "field": f"items[{position}].sku",
                               "message": f"This SKU is not on order {reference} of this "
                                          "customer."})
                continue
            left = sum(bought - refunded for _, bought, refunded in candidates)
            if wanted > left:
                errors.append({"index": index, "field": f"items[{position}].quantity",
                               "message": f"More than was bought: {left} left to refund of "
                                          "this SKU on this order."})
                continue
            for line in candidates:
                take = min(wanted, line[1] - line[2])
                line[2] += take
                wanted -= take
                if isinstance(line[0], int):
                    plan.stored_refunded[line[0]] = line[2]
                else:
                    plan.new_refunded[line[0]] = line[2]
        if any(refunded < bought for skus in of_order.values()
               for _, bought, refunded in skus):
            plan.partial.add(index)
    return errors


def lines_store(items: list[tuple[int, dict]], *, customers: dict, orders: dict,
                events: list, plan: LinesPlan, now: dt.datetime) -> None:
    """Insert the lines of the orders this batch created (with what its refunds took back)
    and of its other events, and the refunded quantities of stored lines: at most four
    statements (the products of the batch's SKUs, two inserts, one update)."""
    order_rows, event_rows, done = [], [], set()
    for (_, data), event in zip(items, events):
        customer_id = customers[data["customer"]["external_id"]].pk
        order = data.get("order")
        if order and order.get("items") and orders[order["external_id"]].created \
                and order["external_id"] not in done:
            done.add(order["external_id"])
            ref = orders[order["external_id"]]
            for position, line in enumerate(order["items"]):
                order_rows.append({
                    "order_id": ref.pk, "customer_id": customer_id, "sku": line["sku"],
                    "product_id": None, "quantity": line["quantity"],
                    "price": Decimal(str(line["price"])), "placed_at": data["occurred_at"],
                    "refunded_quantity": plan.new_refunded.get(
                        (order["external_id"], position), 0)})
        for line in data.get("items") or []:
            price = line.get("price")
            event_rows.append({
                "event_id": event.pk, "customer_id": customer_id, "sku": line["sku"],
                "product_id": None, "quantity": line.get("quantity", 1),
                "price": None if price is None else Decimal(str(price)),
                "occurred_at": data["occurred_at"]})
    skus = sorted({row["sku"] for row in order_rows + event_rows})
    if skus:
        products = dict(filter_in(Product.objects, "sku", skus).values_list("sku", "pk"))
        for row in order_rows + event_rows:
            row["product_id"] = products.get(row["sku"])
    rows_insert(OrderLine, order_rows)
    rows_insert(EventLine, event_rows)
    rows_update(OrderLine, [{"id": pk, "refunded_quantity": refunded}
                            for pk, refunded in sorted(plan.stored_refunded.items())],
                fields=["refunded_quantity"])
