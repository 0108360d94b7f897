"""Templating for product lists and content by segment: no database."""
import pytest

from campaigns.exceptions import TemplateRenderError
from campaigns.templating import (
    SAMPLE_CONTEXT, Attributes, AttributeReads, template_render, template_segments,
    template_validate,
)
from campaigns.templating.checks import draft_notes, draft_problems


def render(source: str, context: dict) -> str:
    return template_render(cache_key=("t", source), subject="", html_body="", text_body=source,
                           context=context)["text"]


def test_a_dicts_key_wins_over_the_dict_method_of_the_same_name():
    assert render("{% for i in order.items %}{{ i }}{% endfor %}",
                  {"order": {"items": ["a", "b"]}}) == "ab"
    assert render("{{ d.keys() | list }}", {"d": {"x": 1}}) == "['x']"


def test_a_missing_product_attribute_renders_empty_is_false_and_takes_its_default():
    item = {"attributes": Attributes({"color": "red"})}
    source = ("[{{ item.attributes.size }}][{{ item.attributes.size | default('–') }}]"
              "{% if item.attributes.size %}yes{% endif %}"
              "{% if item.attributes.size is defined %}defined{% endif %}"
              "[{{ item.attributes['color'] }}]")

    assert render(source, {"item": item}) == "[][–][red]"


def test_attribute_reads_count_the_products_read_and_those_missing():
    reads = AttributeReads()
    items = [{"attributes": reads.wrap({"color": "red"})}, {"attributes": reads.wrap({})}]

    render("{% for i in items %}{{ i.attributes.color | default('') }}{% endfor %}",
           {"items": items})

    read, missing = reads.reads["color"]
    assert (len(read), len(missing)) == (2, 1)


def test_the_segments_a_template_names_are_read_from_its_calls():
    names = template_segments(cache_key=("s",), subject='{{ in_segment("A") }}',
                              html_body='{% if in_segment("B") and x %}{% endif %}',
                              text_body="{{ in_segment(name) }}")

    assert names == frozenset({"A", "B"})


def test_the_members_version_is_checked_on_save_too():
    with pytest.raises(TemplateRenderError, match="nothing_here"):
        template_validate(subject="Hi", text_body="",
                          html_body='{% if in_segment("VIP") %}{{ nothing_here }}{% endif %}')


def test_the_sample_has_every_new_variable_so_starters_check_clean():
    source = ("{% for i in event.items %}{{ i.name }}{{ i.line_total }}{% endfor %}"
              "{{ event.properties.anything | default('') }}{{ event.occurred_at }}"
              "{% for o in orders %}{{ o.placed_at }}{% endfor %}"
              "{% for r in recommendations(4, strategy='top') %}{{ r.reason }}{% endfor %}")

    template_validate(subject="x", html_body=source, text_body="")
    assert draft_problems(subject="x", html_body=source, text_body="",
                          purpose="transactional") == {"subject": [], "html": [], "text": []}
    assert len(SAMPLE_CONTEXT["event"]["items"]) == 2 and len(SAMPLE_CONTEXT["orders"]) == 2


def test_a_misspelt_event_field_is_a_problem_with_a_suggestion():
    problems = draft_problems(subject="x", html_body="{{ event.itmes }}", text_body="",
                              purpose="transactional")

    assert problems["html"] == ["Line 1: there is no variable “event.itmes”. Did you mean "
                                "“event.items”?"]


def test_a_segment_not_among_the_existing_ones_is_named():
    notes = draft_notes(subject='{{ in_segment("VIP") }}', html_body="", text_body="",
                        segments={"Newsletter"})

    assert notes == ["Subject, line 1: no segment called “VIP”, so in_segment(“VIP”) is always "
                     "false. Check its name on the Segments page."]
