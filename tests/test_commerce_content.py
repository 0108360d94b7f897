"""The shipped emails of the product journeys render in every language with the context
the template contract promises (`event.items`, `recommendations(n)`), and without it."""
import pytest

from campaigns.services.demo import content_locales, content_read
from campaigns.templating import template_render

KINDS = ["abandoned_cart", "abandoned_cart_reminder", "browse_abandonment", "reorder"]


def item(sku, name, *, quantity=1, price="349.00", image="https://shop.example.com/i/p.svg"):
    return {"sku": sku, "name": name, "url": f"https://shop.example.com/p/{sku}",
            "image_url": image, "price": price, "currency": "SEK", "quantity": quantity,
            "line_total": f"{float(price) * quantity:.2f}" if price else "",
            "category": "Kitchen > Knives", "brand": "Fjällstål", "in_stock": True,
            "attributes": {}, "known": True}


def context(*, items, picks, properties=None):
    return {
        "customer": {"first_name": "Astrid", "last_name": "L", "email": "a@example.se",
                     "locale": "sv", "external_id": "c-1", "attributes": {}},
        "site_url": "https://shop.example.com",
        "company": {"name": "Nordic Goods AB", "address": "Storgatan 1"},
        "campaign": {"name": "Abandoned cart"},
        "unsubscribe_url": "https://shop.example.com/u/x",
        "event": {"type": "checkout.started", "occurred_at": "2026-03-02T09:00:00+00:00",
                  "properties": properties or {}, "items": items},
        "recommendations": lambda n, strategy=None: [
            {**p, "reason": "A best seller"} for p in picks][:n],
    }


def render(kind, locale, ctx):
    parts = content_read(name=kind, locale=locale)
    return template_render(cache_key=("test", kind, locale), subject=parts["subject"],
                           html_body=parts["html_body"], text_body=parts["text_body"],
                           context=ctx)


@pytest.mark.parametrize("kind", KINDS)
def test_every_product_email_ships_in_swedish_norwegian_and_english(kind):
    assert content_locales(name=kind) == ["en", "nb", "sv"]


@pytest.mark.parametrize("locale", ["sv", "nb", "en"])
def test_the_cart_email_shows_the_items_a_button_back_to_the_cart_and_three_picks(locale):
    items = [item("KNIFE-1", "Kockkniv 20 cm", quantity=2), item("MUG-1", "Mugg <Fjäll>")]
    picks = [item(f"P-{n}", f"Pick {n}", price="99.00") for n in range(5)]

    rendered = render("abandoned_cart", locale, context(
        items=items, picks=picks, properties={"cart_url": "https://shop.example.com/cart/abc"}))

    html = rendered["html"]
    assert "Kockkniv 20 cm" in html and "698.00 SEK" in html
    assert "Mugg &lt;Fjäll&gt;" in html  # escaped
    assert 'src="https://shop.example.com/i/p.svg"' in html
    assert 'href="https://shop.example.com/cart/abc"' in html
    assert [f"Pick {n}" in html for n in range(5)] == [True] * 3 + [False] * 2
    assert "2 × Kockkniv 20 cm" in rendered["text"]
    assert "https://shop.example.com/cart/abc" in rendered["text"]
    assert "Astrid" in rendered["subject"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("locale", ["sv", "nb", "en"])
def test_each_email_renders_with_no_cart_url_no_items_and_nothing_to_recommend(kind, locale):
    rendered = render(kind, locale, context(items=[], picks=[]))

    assert 'href="https://shop.example.com"' in rendered["html"]  # the shop stands in
    assert "<h2>" not in rendered["html"]  # no "you might also like" without picks


@pytest.mark.parametrize("locale", ["sv", "nb", "en"])
def test_the_reorder_email_names_the_product_and_links_to_it(locale):
    rendered = render("reorder", locale, context(
        items=[item("BEANS-1", "Kaffebönor Mörkrost 500 g", price="129.00")], picks=[],
        properties={"reorder_days": 30}))

    assert "Kaffebönor Mörkrost 500 g" in rendered["subject"]
    assert 'href="https://shop.example.com/p/BEANS-1"' in rendered["html"]
    assert "30" in rendered["text"]


@pytest.mark.parametrize("locale", ["sv", "nb", "en"])
def test_the_browse_email_names_the_viewed_product(locale):
    rendered = render("browse_abandonment", locale, context(
        items=[item("LAMP-1", "Bordslampa Ljus", image="")], picks=[]))

    assert "Bordslampa Ljus" in rendered["subject"]
    assert "<img" not in rendered["html"]  # no image: no broken picture


def test_the_cart_email_keeps_its_items_and_picks_inside_the_shop_layout():
    from campaigns.templating import Layout

    parts = content_read(name="abandoned_cart", locale="en")
    rendered = template_render(
        cache_key=("test-layout",), subject=parts["subject"], html_body=parts["html_body"],
        text_body=parts["text_body"], layout=Layout(key=("test", 1), company_name="Nordic Goods"),
        context=context(items=[item("KNIFE-1", "Chef's knife")],
                        picks=[item("P-1", "Pick 1")]))

    html = rendered["html"]
    assert "Chef&#39;s knife" in html or "Chef&#x27;s knife" in html
    assert "Pick 1" in html and 'class="button"' in html
