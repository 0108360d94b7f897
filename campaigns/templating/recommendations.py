"""Sample recommendations for the sample customer (previews and save-time checks)."""
from django.utils.translation import gettext

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
    n = max(1, min(12, int(n)))
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
            "brand": "Nordic Goods", "in_stock": True, "attributes": {}, "known": True,
            "reason": reasons[kind] % {"name": named, "category": named},
        })
    return items[:n]
