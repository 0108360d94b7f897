"""Pure: what a product condition is about (a SKU, a category path or a brand), read and
checked against what the catalogue holds."""
import difflib
import json
from dataclasses import dataclass

from django.utils.translation import gettext

from .catalogue import PRODUCT_TARGETS, category_path

PRODUCT_KEYS = tuple(key for key, _label in PRODUCT_TARGETS)


@dataclass(frozen=True)
class ProductFacts:
    """What the catalogue holds of the categories, brands and SKUs a rule names: the
    caller reads it (segmentation runs no query). Every category path is listed with its
    ancestors ("Kitchen > Knives" gives "Kitchen" too)."""

    categories: frozenset = frozenset()
    brands: frozenset = frozenset()
    skus: frozenset = frozenset()


def _show(value) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "…"


def target_read(raw: dict, given: list[str], name: str, facts: ProductFacts | None):
    """(target, error, warning): target is ("sku" | "category" | "brand", value) or None
    with the error in words; an unknown SKU is allowed with a warning (it may arrive
    later), unknown categories and brands are errors. Without `facts` nothing is looked up."""
    if len(given) != 1:
        return None, gettext("%(name)s needs exactly one of \"sku\", \"category\" or "
                             "\"brand\" (what was bought, viewed or paid for)") % {"name": name}, None
    kind, text = given[0], raw[given[0]]
    if not isinstance(text, str) or not text.strip() or len(text) > 300 or "\x00" in text:
        return None, gettext("%(name)s: the %(kind)s %(value)s is not a text of 1 to 300 "
                             "characters") % {"name": name, "kind": kind, "value": _show(text)}, None
    text = text.strip()
    if kind == "category":
        text = category_path(text)
        if "" in text.split(" > "):
            return None, gettext("%(name)s: the category %(value)s has an empty part; write a "
                                 "path such as \"Kitchen > Knives\"") % {
                "name": name, "value": _show(raw[kind])}, None
    if facts is None:
        return (kind, text), None, None
    known = {"category": facts.categories, "brand": facts.brands, "sku": facts.skus}[kind]
    if text in known:
        return (kind, text), None, None
    if kind == "sku":
        return (kind, text), None, gettext(
            "%(name)s: the SKU %(value)s is not in the product catalogue yet; the rule "
            "counts it as soon as it arrives") % {"name": name, "value": _show(text)}
    same = [k for k in known if k.casefold() == text.casefold()]
    close = same or difflib.get_close_matches(text, list(known), n=1)
    hint = (gettext("; did you mean %(close)s?") % {"close": _show(close[0])}) if close else ""
    words = (gettext("there is no category %(value)s in the product catalogue")
             if kind == "category"
             else gettext("there is no brand %(value)s in the product catalogue"))
    return None, f"{name}: " + words % {"value": _show(text)} + hint, None
