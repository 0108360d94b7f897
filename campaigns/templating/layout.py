"""The shared email layout around a template's HTML, with its CSS inlined for mail apps.

Many mail apps drop a `<style>` block (or keep only part of it), so every rule must also
sit in `style` attributes. Inlining is the dear part (an HTML parse and a CSS match), so it
is done on the *template source*, once per (translation version, layout version), and the
result is compiled and cached like any template: each email then only renders. To inline a
Jinja2 source, each `{{ … }}`, `{% … %}` and `{# … #}` is first swapped for an HTML comment,
which the HTML parser keeps where it stands (even between `<tr>` and `<td>`, where text would
be moved) and the inliner leaves alone; afterwards the comments are swapped back. Should the
parser move or drop any of them (HTML whose tags open in one `{% if %}` branch and close in
another), the source is left as it is and each rendered email is inlined instead: slower,
never wrong.

The layout's own values are written into the source, so an email reads none of them at
render time (each read through the sandbox costs microseconds): free text (company name,
logo address, footer text) HTML-escaped and with its braces as character references, so
it can never open a Jinja2 tag; the colours and the font into the CSS as written, which
is why the model allows only #rrggbb and a fixed list of fonts.
"""
import dataclasses
import functools
import html
import re
import string
from functools import lru_cache
from pathlib import Path

import css_inline

_SKELETON = string.Template((Path(__file__).parent / "layout.html").read_text(encoding="utf-8"))
_CONTENT_MARK = "\x00content\x00"
_JINJA = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}", re.S)
# In an element whose content is text (<title>), the parser keeps the comment as text and
# writes it back escaped.
_PLACEHOLDER = re.compile(r"(?:<!--|&lt;!--)jinja(\d+)(?:-->|--&gt;)")
# No remote stylesheet is ever fetched; media queries stay in the <style> block for the
# mail apps that read it (phones), everything else goes to attributes.
_INLINER = css_inline.CSSInliner(keep_style_tags=False, keep_at_rules=True,
                                 load_remote_stylesheets=False)


@dataclasses.dataclass(frozen=True)
class Layout:
    """What of an EmailLayout goes into the source; `key` changes with every edit."""

    key: tuple
    company_name: str = ""
    logo_url: str = ""
    footer_text: str = ""
    brand_color: str = "#2f4f4f"
    background_color: str = "#f4f1ec"
    text_color: str = "#2b2b2b"
    font: str = "Georgia, 'Times New Roman', serif"

    def __hash__(self):
        # The key names one version of one layout: hashing it alone keeps a cache lookup
        # cheap (equality still compares every field).
        return hash(self.key)

    @functools.cached_property
    def footer_style(self) -> tuple[str, str, str]:
        """(font, text colour, link colour) of the legal footer under this layout."""
        return (self.font, _mix(self.text_color, self.background_color, 0.45), self.brand_color)


def _mix(colour: str, other: str, share: float) -> str:
    """`colour` moved `share` of the way towards `other` (#rrggbb)."""
    a = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    b = [int(other[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * share):02x}" for x, y in zip(a, b))


def _text(value: str) -> str:
    """Free text as HTML that Jinja2 sees as plain text (no { or } left)."""
    return html.escape(value, quote=True).replace("{", "&#123;").replace("}", "&#125;")


# The layout's free text goes in after the HTML parse (which would turn &#123; back into
# "{"): until then these words hold its places.
_TEXT_MARKS = ("lcmarkname", "lcmarklogo", "lcmarkfooter")


def _skeleton(layout: Layout) -> str:
    name, logo, footer = _TEXT_MARKS
    return _SKELETON.substitute(
        title=name, logo=f'<img src="{logo}" alt="{name}">' if layout.logo_url else name,
        footer=f'<div class="lc-footer-text">{footer}</div>' if layout.footer_text.strip() else "",
        background=layout.background_color, text=layout.text_color, brand=layout.brand_color,
        font=layout.font, muted=_mix(layout.text_color, layout.background_color, 0.45),
        tint=_mix(layout.brand_color, "#ffffff", 0.9), border=_mix(layout.brand_color, "#ffffff", 0.7),
        paper=_mix(layout.background_color, "#ffffff", 0.6),
        content=_CONTENT_MARK,
    )


def _texts_fill(source: str, layout: Layout) -> str:
    for mark, value in zip(_TEXT_MARKS, (layout.company_name, layout.logo_url, layout.footer_text)):
        source = source.replace(mark, _text(value))
    return source


def css_inline_html(document: str) -> str:
    """Inline a rendered document's <style> rules into style attributes."""
    return _INLINER.inline(document)


def _inline_source(source: str) -> str | None:
    """The Jinja2 source with its CSS inlined, or None when that cannot be done safely."""
    kept = []

    def keep(match):
        kept.append(match.group(0))
        return f"<!--jinja{len(kept) - 1}-->"

    inlined = _INLINER.inline(_JINJA.sub(keep, source))
    order = [int(n) for n in _PLACEHOLDER.findall(inlined)]
    if order != list(range(len(kept))):
        return None  # the parser moved or dropped a tag: inline each email instead
    return _PLACEHOLDER.sub(lambda match: kept[int(match.group(1))], inlined)


@lru_cache(maxsize=512)
def layout_wrap(html_body: str, layout: Layout) -> tuple[str, bool]:
    """The template's HTML inside the layout: (Jinja2 source, whether each rendered email
    must still be inlined). Cached: `layout` changes with every edit of the layout, the body
    with every edit of the translation."""
    composed = _skeleton(layout).replace(_CONTENT_MARK, html_body)
    # A body holding a mark's word (never, in practice) would have it filled: not inlined then.
    clash = any(mark in html_body for mark in _TEXT_MARKS)
    inlined = None if clash else _inline_source(composed)
    if inlined is None:
        head, _, tail = _skeleton(layout).partition(_CONTENT_MARK)
        return _texts_fill(head, layout) + html_body + _texts_fill(tail, layout), True
    return _texts_fill(inlined, layout), False
