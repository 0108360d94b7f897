"""Sample recommendations for the sample customer (previews and save-time checks), and
how many items a template asks for."""
from functools import lru_cache

import jinja2
from django.utils.translation import gettext
from jinja2 import nodes

MAX_ITEMS = 12
_PARSER = jinja2.Environment()

# (sku, name, category, price, reason kind, what the reason names)
_SAMPLES = (
    ("k-200", "Cutting board, oak", "Kitchen > Boards", "349.00", "bought", "Chef's knife"),
    ("k-310", "Whetstone 1000/6000", "Kitchen > Knives", "429.00", "bought", "Chef's knife"),
    ("k-120", "Cast-iron pan 28 cm", "Kitchen > Pans", "699.00", "category", "Kitchen"),
    ("h-050", "Linen apron", "Home > Textiles", "299.00", "category", "Kitchen"),
    ("g-010", "Gift card", "Gifts", "500.00", "top", ""),
    ("k-410", "Knife magnet, walnut", "Kitchen > Storage", "389.00", "top", ""),
)


def sample_recommendations(n=4, strategy=None) -> list[dict]:
    """What `recommendations(n, strategy)` returns for the sample customer: the same shape
    as a real customer's, with plausible products."""
    from campaigns.templating import Attributes  # the package imports this module

    n = max(1, min(MAX_ITEMS, int(n)))
    reasons = {
        "bought": gettext("Because you bought %(name)s"),
        "category": gettext("Popular in %(category)s"),
        "top": gettext("A best seller"),
    }
    kinds = {"bought_together": "bought", "category": "category", "top": "top"}
    if strategy is not None and strategy not in kinds:
        raise ValueError(f"recommendations: strategy must be one of {', '.join(kinds)}")
    items = []
    for sku, name, category, price, kind, named in _SAMPLES:
        if strategy is not None and kinds[strategy] != kind:
            continue
        items.append({
            "sku": sku, "name": name, "url": f"https://shop.example.com/p/{sku}",
            "image_url": f"https://shop.example.com/img/{sku}.jpg", "price": price,
            "currency": "SEK", "quantity": 1, "line_total": "", "category": category,
            "brand": "Nordic Goods", "in_stock": True, "attributes": Attributes({}),
            "known": True,
            "reason": reasons[kind] % {"name": named, "category": named},
        })
    return items[:n]


@lru_cache(maxsize=2048)
def recommendations_most(*, cache_key: tuple, subject: str, html_body: str,
                         text_body: str) -> int:
    """The most items a template's `recommendations(...)` calls can ask for: the largest
    constant `n` (4 when not given), or 12 when some call's `n` is not a constant. The
    sender loads that many per customer. `cache_key` as for rendering."""
    most = 0
    for source in (subject, html_body, text_body):
        try:
            ast = _PARSER.parse(source)
        except jinja2.TemplateSyntaxError:
            continue  # rendering reports it
        for call in ast.find_all(nodes.Call):
            if not (isinstance(call.node, nodes.Name) and call.node.name == "recommendations"):
                continue
            given = call.args[0] if call.args else next(
                (kw.value for kw in call.kwargs if kw.key == "n"), nodes.Const(4))
            if call.dyn_args is not None or call.dyn_kwargs is not None or not (
                    isinstance(given, nodes.Const) and isinstance(given.value, int)):
                return MAX_ITEMS
            most = max(most, min(MAX_ITEMS, max(1, given.value)))
    return most
