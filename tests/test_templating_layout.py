"""The shared email layout: it wraps the HTML, its CSS ends up in style attributes, Jinja2
survives the inlining, and an edit of the layout reaches the next send."""
import datetime as dt

import pytest
from django.core import mail

from campaigns.models import EmailLayout
from campaigns.services.demo import content_read
from campaigns.templating import SAMPLE_CONTEXT, Layout, footer_render, template_render
from tests.factories import EventFactory
from tests.helpers import consenting_customer, run_tick

UTC = dt.timezone.utc
LAYOUT = Layout(key=("test", 1), brand_color="#aa0033", company_name="Nordic Goods AB")


def _html(body: str, layout=LAYOUT, context=SAMPLE_CONTEXT) -> str:
    return template_render(cache_key=("layout-test", body), subject="s", html_body=body,
                           text_body="t", context=context, layout=layout)["html"]


def test_the_layout_wraps_the_html_and_its_css_is_inlined():
    html = _html('<h1>Hi {{ customer.first_name }}</h1><p class="action">'
                 '<a class="button" href="{{ site_url }}">Shop</a></p>')

    assert html.startswith("<!DOCTYPE html>") and "<body" in html
    assert "Hi Astrid</h1>" in html
    # Every rule of the layout is in a style attribute: mail apps that drop <style> keep it.
    assert '<h1 style="margin: 0 0 24px 0;font-size: 26px;' in html
    assert 'class="button" href="https://shop.example.com" style="' in html
    button = html.split('class="button"', 1)[1].split(">", 1)[0]
    assert "background-color: #aa0033" in button
    # Only the phone rules stay in <style>, for the apps that read them.
    style = html.split("<style>", 1)[1].split("</style>", 1)[0]
    assert style.strip().startswith("@media") and ".lc-card p {" not in style
    assert ">Nordic Goods AB</p>" in html  # the company name where no logo is set


def test_jinja_between_table_rows_survives_the_inlining():
    html = _html(content_read(name="survey", locale="en")["html_body"],
                 context={**SAMPLE_CONTEXT, "order": SAMPLE_CONTEXT["order"]})

    links = html.count('href="https://shop.example.com/s/sample/')
    assert links == 11 + 1  # the 0-10 scale and the follow-up question
    assert '<td style="padding: 0 1px;"><a href="https://shop.example.com/s/sample/0" style="' in html


def test_html_the_parser_would_reshape_is_inlined_per_email_instead():
    # A Jinja tag inside a start tag cannot be kept through an HTML parse of the source.
    body = '<p {% if customer.first_name %}title="hi"{% endif %}>Hi {{ customer.first_name }}</p>'

    html = _html(body)

    assert '<p title="hi" style="margin: 0 0 16px 0;">Hi Astrid</p>' in html


def test_the_company_in_the_context_is_data_not_template_source():
    context = {**SAMPLE_CONTEXT, "company": {"name": "A & B {{ 1 + 1 }}", "address": "x"}}

    html = _html("<p>{{ company.name }}</p>", context=context)

    assert "<p style=\"margin: 0 0 16px 0;\">A &amp; B {{ 1 + 1 }}</p>" in html


def test_the_legal_footer_takes_the_layouts_font_and_colours():
    context = {**SAMPLE_CONTEXT}
    plain = footer_render(locale="en", context=context)["html"]
    styled = footer_render(locale="en", context=context, layout=LAYOUT)["html"]

    assert "font-family:Arial,sans-serif" in plain
    assert "Georgia" in styled and "color:#aa0033" in styled
    assert "Unsubscribe" in styled


@pytest.mark.django_db
def test_the_send_uses_the_default_layout_and_an_edit_reaches_the_next_send(
    frozen_clock, welcome, policy
):
    layout = EmailLayout.objects.create(name="Shop", is_default=True, brand_color="#112233",
                                        footer_text="Open every day")
    template = welcome.steps.get().template
    template.translations.filter(locale="en").update(html_body='<p><a href="{{ site_url }}">Go</a></p>')
    now = dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    frozen_clock.set(now)
    first = consenting_customer(locale="en")
    EventFactory(customer=first, type="signup", occurred_at=now)

    run_tick(now)

    (email,) = mail.outbox
    html = email.alternatives[0][0]
    assert 'style="color: #112233;">Go</a>' in html
    assert ">Open every day</div>" in html
    assert "\n\nOpen every day\n\n--\n" in email.body  # the text part ends with it too
    assert html.index("Open every day") < html.index("Unsubscribe")  # then the legal footer

    # The marketer changes the brand colour: the cached compiled copy is keyed by the old
    # version, so the next send renders with the new one.
    layout.brand_color = "#445566"
    layout.save()
    assert layout.version == 2
    second = consenting_customer(locale="en")
    later = now + dt.timedelta(minutes=5)
    frozen_clock.set(later)
    EventFactory(customer=second, type="signup", occurred_at=later)

    run_tick(later)

    assert len(mail.outbox) == 2
    assert 'style="color: #445566;">Go</a>' in mail.outbox[1].alternatives[0][0]


@pytest.mark.django_db
def test_a_template_marked_no_layout_is_sent_as_written(frozen_clock, welcome, policy):
    EmailLayout.objects.create(name="Shop", is_default=True)
    template = welcome.steps.get().template
    template.raw_html = True
    template.save()
    now = dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    frozen_clock.set(now)
    EventFactory(customer=consenting_customer(locale="en"), type="signup", occurred_at=now)

    run_tick(now)

    html = mail.outbox[0].alternatives[0][0]
    assert html.startswith("<html><body><p>Hi ")
    assert "lc-card" not in html and "Unsubscribe" in html


@pytest.mark.parametrize("name", ["welcome", "survey", "bonus", "winback", "winback_reminder",
                                  "points_expiring"])
def test_every_demo_template_is_inlined_once_not_per_email(name):
    from campaigns.services.demo import content_locales
    from campaigns.templating.layout import layout_wrap

    for locale in content_locales(name=name):
        source, per_email = layout_wrap(content_read(name=name, locale=locale)["html_body"], LAYOUT)
        assert per_email is False, (name, locale)
        assert "{{ customer.first_name" in source and 'style="' in source


def test_the_layouts_own_texts_cannot_open_a_jinja_tag():
    layout = Layout(key=("test", 2), company_name="A & B {{ 7 * 7 }}", footer_text="{% if %}<b>",
                    logo_url='https://x.example/l.png?a="{{x}}"')

    html = _html("<p>Hi</p>", layout=layout)

    assert "<title>A &amp; B &#123;&#123; 7 * 7 &#125;&#125;</title>" in html
    assert ">&#123;% if %&#125;&lt;b&gt;</div>" in html
    assert 'src="https://x.example/l.png?a=&quot;&#123;&#123;x&#125;&#125;&quot;"' in html
    assert "49" not in html
