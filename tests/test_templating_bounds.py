"""Rendering bounds: a template cannot hold a worker, in time or in size."""
import time
import tracemalloc

import pytest

from campaigns.exceptions import TemplateRenderError, TemplateTooLargeError, TemplateTooSlowError
from campaigns.templating import SAMPLE_CONTEXT, RenderLimits, template_render, template_validate


class MovingTimer:
    """A clock that moves `step` seconds each time it is read: rendering reads it once per
    few hundred loop iterations, so a long loop passes any deadline, and the test waits
    for nothing."""

    def __init__(self, step: float):
        self.now, self.step, self.reads = 1000.0, step, 0

    def __call__(self) -> float:
        self.now += self.step
        self.reads += 1
        return self.now


def render(text, *, limits=None, subject="S", html="<p>H</p>", key=None):
    return template_render(
        cache_key=(key or text, "bounds"), subject=subject, html_body=html, text_body=text,
        context=SAMPLE_CONTEXT, limits=limits or RenderLimits(),
    )


def test_a_loop_past_the_deadline_fails_as_too_slow_naming_the_part():
    timer = MovingTimer(step=0.1)

    with pytest.raises(TemplateTooSlowError, match=r"^text body: takes too long to render "
                                                   r"\(over 0\.5 s\)"):
        render("{% for i in range(100000) %}{{ i }}{% endfor %}",
               limits=RenderLimits(seconds=0.5, timer=timer))
    assert timer.reads < 10  # it stopped at the deadline, not at the end of the loop


def test_an_ordinary_template_reads_the_timer_only_a_few_times_and_passes():
    timer = MovingTimer(step=0.1)

    out = render("Hi {{ customer.first_name }}"
                 "{% for link in survey.nps_links %} {{ link.score }}{% endfor %}",
                 limits=RenderLimits(seconds=0.5, timer=timer))

    assert out["text"].startswith("Hi Astrid 0 1 2")
    assert timer.reads == 4  # the start, then once after each part


@pytest.mark.parametrize("source", [
    # Loops whose items are not counted by range() alone: a prebuilt list, loops nested
    # so deep that each is short, a macro that calls itself twice.
    "{% set xs = range(100000)|list %}{% for i in xs %}{% for j in xs %}{% endfor %}{% endfor %}",
    "{% set xs = range(100)|list %}{% for a in xs %}{% for b in xs %}{% for c in xs %}"
    "{% for d in xs %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}",
    "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
    # Few steps, each working on 100,000 items inside a filter.
    "{% set xs = range(100000)|list %}"
    "{% for i in xs %}{{ xs|select('odd')|map('string')|list|length }}{% endfor %}",
])
def test_every_way_to_loop_long_meets_the_real_deadline(source):
    started = time.monotonic()

    with pytest.raises(TemplateTooSlowError):
        render(source, limits=RenderLimits(seconds=0.05))

    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize("source", [
    "{{ 'x' * 1000000000 }}",
    "{{ ['x' * 1000] * 1000000 }}",
    "{{ (['y' * 100000] * 1000)|join }}",
    "{{ 'x'|center(1000000000) }}",
    "{{ ('a\n' * 1000)|indent(1000000) }}",
    "{{ ('x' * 100000)|replace('x', 'y' * 100000) }}",
    "{{ ('x ' * 100000)|wordwrap(1, wrapstring='y' * 100000) }}",
    "{{ 'x'.ljust(1000000000) }}",
    "{{ '%01000000000d' % 1 }}",
    "{{ '%01000000000d'|format(1) }}",
    "{{ '{:>1000000000}'.format(1) }}",
    "{{ '{:>{w}}'.format(1, w=1000000000) }}",
    "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}",
    "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
    "{% endfor %}",
    "{% set s = 'x' * 600000 %}{{ [s, s] }}",
    "{% set s = 'x' * 600000 %}{{ {'a': [s], 'b': [s]} }}",
    "{% set s = 'x' * 600000 %}{{ dict(a=s, b=s) }}",
    "{% set s = 'x' * 600000 %}{% for a, b in [(s, s)] %}{% endfor %}",
    "{{ 2 ** 100000000 }}",
    "{% set ns = namespace(n=99999999999) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}"
    "{% endfor %}",
])
def test_a_value_larger_than_the_output_may_be_is_refused_before_it_is_made(source):
    tracemalloc.start()
    try:
        with pytest.raises(TemplateTooLargeError, match="^text body: output too large"):
            render(source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 20_000_000  # at most about twice the 1 MB limit, never the gigabyte


def test_output_past_the_limit_stops_while_it_streams():
    tracemalloc.start()
    try:
        with pytest.raises(TemplateTooLargeError, match=r"^HTML body: output too large "
                                                        r"\(over 1,000 bytes\)"):
            # Each chunk is small and allowed; together they would be 100 MB.
            render("T", html="{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
                   limits=RenderLimits(output_bytes=1000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_the_output_limit_is_in_utf8_bytes_over_all_three_parts():
    limits = RenderLimits(output_bytes=100)

    assert render("x" * 98, subject="S", html="H", limits=limits)["text"] == "x" * 98
    with pytest.raises(TemplateTooLargeError, match="text body"):
        render("x" * 98, subject="SS", html="H", limits=limits)
    with pytest.raises(TemplateTooLargeError):
        render("å" * 60, subject="", html="", limits=limits)  # 60 characters, 120 bytes


def test_constant_arithmetic_is_not_folded_while_compiling():
    # Jinja folds constant expressions when it compiles: `2 ** 100000000` would take
    # minutes there, before any limit applies.
    started = time.monotonic()

    with pytest.raises(TemplateTooLargeError):
        template_validate(subject="S", html_body="H", text_body="{{ 7 ** 100000000 }}")

    assert time.monotonic() - started < 1.0


def test_what_the_bounds_leave_alone_renders_as_before():
    out = render("{{ 'ab' * 3 }} {{ [1, 2] * 2 }} {{ 2 ** 10 }} {{ '%05d' % 42 }} "
                 "{{ '{:>4}'.format(7) }} {{ 'x'|center(5) }} {{ ['a', 'b']|join(', ') }} "
                 "{{ 'a' ~ 1 }} {{ 'a' + 'b' }} {{ 'Hi you'|replace('you', 'there') }} "
                 "{% set a, b = 1, 2 %}{{ b }}{% for k, v in {'k': 'v'}.items() %}{{ k ~ v }}"
                 "{% endfor %} {{ ('t', 'u') }}")

    assert out["text"] == ("ababab [1, 2, 1, 2] 1024 00042    7   x   a, b a1 ab Hi there "
                           "2kv ('t', 'u')")


def test_a_template_that_calls_itself_forever_is_an_error_not_a_crash():
    with pytest.raises(TemplateRenderError, match="calls itself too deeply"):
        render("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}")
