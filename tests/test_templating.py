"""Rendering: sandboxed, autoescaped HTML, readable errors."""
import pytest

from campaigns.exceptions import TemplateRenderError
from campaigns.templating import footer_render, template_render, template_validate, with_footer

CONTEXT = {"customer": {"first_name": "<b>Ola</b>"}, "unsubscribe_url": "https://x/u/t",
           "company": {"name": "Nordic Goods AB", "address": "Storgatan 1"}}


def render(subject="S", html="<p>H</p>", text="T", key=("t",)):
    return template_render(cache_key=key, subject=subject, html_body=html, text_body=text,
                           context=CONTEXT)


def test_html_is_autoescaped_and_text_is_not():
    out = render(html="<p>{{ customer.first_name }}</p>", text="{{ customer.first_name }}", key=("esc",))
    assert out["html"] == "<p>&lt;b&gt;Ola&lt;/b&gt;</p>"
    assert out["text"] == "<b>Ola</b>"


def test_a_subject_becomes_one_line():
    assert render(subject="Hello\n  there", key=("subj",))["subject"] == "Hello there"


def test_an_unknown_variable_is_an_error_naming_the_part():
    with pytest.raises(TemplateRenderError, match="text body: 'dict object' has no attribute 'age'"):
        render(text="{{ customer.age }}", key=("undef",))


def test_a_syntax_error_names_the_part_and_line():
    with pytest.raises(TemplateRenderError, match="HTML body, line 2"):
        template_validate(subject="S", html_body="<p>\n{{ customer.first_name </p>", text_body="T")


def test_the_sandbox_refuses_reaching_into_python_internals():
    with pytest.raises(TemplateRenderError):
        render(text="{{ customer.__class__.__mro__ }}{{ ''.__class__.__subclasses__() }}", key=("sb",))


def test_the_footer_is_inserted_before_the_end_of_the_body_in_the_customers_language():
    footer = footer_render(locale="nb", context=CONTEXT)
    out = with_footer(rendered={"subject": "S", "html": "<html><body><p>x</p></body></html>",
                                "text": "x"}, footer=footer)
    assert out["html"].endswith("</div></body></html>")
    assert "Meld deg av" in out["html"] and "https://x/u/t" in out["text"]


def test_an_unknown_locale_falls_back_to_the_english_footer():
    assert "Unsubscribe" in footer_render(locale="fi", context=CONTEXT)["text"]
