"""Bounds on rendering one message: time and size, checked cheaply on the hot path.

A marketer's template is hostile input (STYLE 7.18). Jinja's sandbox stops a template
from reaching Python's internals and caps `range()` at 100,000 items, but not a loop
inside a loop, nor `"x" * 10**9`. Here every for loop's items and every call are counted
and the timer is read once per few hundred of them (no thread, no signal: a read of
`time.monotonic` costs about 50 ns); an operation that would make a value larger than
the output may be (`*`, `**`, `%`, `~`, `+`, `|center`, `|indent`, `|replace`, `|join`,
`|wordwrap`, `|format`, `str.format`, `.ljust` …) is refused before it makes it; the
output is measured while it streams, chunk by chunk.
"""
import contextvars
import dataclasses
import re
import string
import time
from functools import wraps
from typing import Callable

from jinja2 import filters as jinja_filters
from jinja2 import nodes
from jinja2.compiler import CodeGenerator
from jinja2.sandbox import ImmutableSandboxedEnvironment

from campaigns.exceptions import TemplateTooLargeError, TemplateTooSlowError


@dataclasses.dataclass(frozen=True)
class RenderLimits:
    """How long one message (its three parts together) may take to render, and how many
    bytes of UTF-8 it may come to. `timer` is read for the deadline (tests move it)."""

    seconds: float = 0.5
    output_bytes: int = 1_000_000
    timer: Callable[[], float] = time.monotonic


DEFAULT_LIMITS = RenderLimits()
# The timer is read once per this many steps: loop items, calls, filters, operators.
_STEPS = 256
# Larger integers than this (in bits) are refused: they print as over 4,000 digits, which
# Python refuses anyway, and making them can take minutes (9**9**9).
_INT_BITS = 14_000


class Budget:
    """What is left of one message's limits while it renders."""

    __slots__ = ("limits", "deadline", "steps", "part", "used", "done")

    def __init__(self, limits: RenderLimits):
        self.limits = limits
        self.deadline = limits.timer() + limits.seconds
        self.steps = _STEPS
        self.part = ""
        self.used = 0  # characters rendered so far
        self.done: list[str] = []  # the parts rendered so far

    def too_large(self) -> TemplateTooLargeError:
        return TemplateTooLargeError(
            f"{self.part}: output too large (over {self.limits.output_bytes:,} bytes)")

    def check_time(self) -> None:
        self.steps = _STEPS
        if self.limits.timer() > self.deadline:
            raise TemplateTooSlowError(
                f"{self.part}: takes too long to render (over {self.limits.seconds:g} s)")


_budget: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("render_budget",
                                                                         default=None)


def _too_large(size: int) -> None:
    """Refuse a value of `size` characters before it is made (or right after, for one
    that at most doubles what exists). Without a budget (constant folding at compile
    time) the default limit applies, and the refusal only leaves it to run time."""
    budget = _budget.get()
    limit = (budget.limits if budget is not None else DEFAULT_LIMITS).output_bytes
    if size > limit:
        part = f"{budget.part}: " if budget is not None and budget.part else ""
        raise TemplateTooLargeError(f"{part}output too large (a value of over {limit:,} "
                                    "characters)")


def _number_too_large() -> None:
    budget = _budget.get()
    part = f"{budget.part}: " if budget is not None and budget.part else ""
    raise TemplateTooLargeError(f"{part}output too large (a number of over {_INT_BITS:,} bits)")


def _tick(*args) -> None:
    """One step, plus one per 64 items of any collection among `args`: a filter or a call
    given 100,000 items works on each of them (`|select`, `|map`, `|sort`), so such a step
    reads the timer at once, and a loop around it cannot run far past the deadline."""
    budget = _budget.get()
    if budget is not None:
        budget.steps -= 1
        for arg in args:
            if isinstance(arg, _COLLECTIONS):
                budget.steps -= len(arg) >> 6
        if budget.steps < 0:
            budget.check_time()


_COLLECTIONS = (list, tuple, dict, set, frozenset, range)


def _charged(filter_function):
    """A filter that counts as a step (`_tick`); its Jinja markers are kept."""
    @wraps(filter_function)
    def charged(*args, **kwargs):
        _tick(*args)
        return filter_function(*args, **kwargs)
    return charged


def _size(value, depth: int = 2) -> int:
    """Characters (or items) a value holds, roughly, two levels deep: what repeating or
    printing it makes (a list may hold one large string many times, by reference)."""
    if isinstance(value, str):
        return len(value)
    if depth and isinstance(value, (list, tuple, dict)):
        items = value.values() if isinstance(value, dict) else value
        return len(value) + sum(_size(item, depth - 1) for item in items)
    return 1


_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\*|\d+)?(?:\.(\*|\d+))?")


def _printf_check(template) -> None:
    """`"%09999999d" % 1` makes 10 MB from 11 characters: refuse large or computed widths."""
    if not isinstance(template, str):
        return
    for match in _PRINTF.finditer(template):
        for width in match.groups():
            if width == "*":
                _too_large(1 << 62)
            elif width:
                _too_large(int(width))


def _format_check(template: str) -> None:
    """The same for str.format: `"{:>9999999}".format(1)`, or a width given as an argument."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return  # format() itself says what is wrong
    for _, _, spec, _ in fields:
        if spec and "{" in spec:
            _too_large(1 << 62)
        for width in re.findall(r"\d+", spec or ""):
            _too_large(int(width))


def _int_check(left, right, operator: str) -> None:
    if not (isinstance(left, int) and isinstance(right, int)):
        return
    if operator == "**":
        if right > 0 and abs(left) > 1 and left.bit_length() * right > _INT_BITS:
            _number_too_large()
    elif left.bit_length() + right.bit_length() > _INT_BITS:
        _number_too_large()


def _sized(filter_function, estimate):
    """A filter that refuses (before making it) a result `estimate(*args, **kwargs)` says
    is too large; its Jinja markers (pass_eval_context …) are kept."""
    @wraps(filter_function)
    def bounded(*args, **kwargs):
        _too_large(estimate(*args, **kwargs))
        return filter_function(*args, **kwargs)
    return bounded


def _join_estimate(eval_ctx, value, d="", attribute=None):
    return sum(_size(item) for item in value) + len(str(d)) * len(value)


def _sync_join(eval_ctx, value, d="", attribute=None):
    items = list(value)  # counted once for the estimate, then joined
    _too_large(_join_estimate(eval_ctx, items, d, attribute))
    result = jinja_filters.sync_do_join(eval_ctx, items, d, attribute)
    _too_large(len(result))
    return result


_sync_join.jinja_pass_arg = jinja_filters.sync_do_join.jinja_pass_arg


def _replace_estimate(eval_ctx, s, old, new, count=None):
    s, old, new = str(s), str(old), str(new)
    times = s.count(old) if old else len(s) + 1
    if count is not None and count >= 0:
        times = min(times, count)
    return len(s) + times * max(0, len(new) - len(old))


def _indent_estimate(s, width=4, first=False, blank=False):
    return len(str(s)) + (len(width) if isinstance(width, str) else int(width)) * (
        str(s).count("\n") + 1)


def _wordwrap_estimate(environment, s, width=79, break_long_words=True, wrapstring=None,
                       break_on_hyphens=True):
    lines = len(str(s)) // max(1, int(width)) + str(s).count("\n") + 1
    return len(str(s)) + lines * len(wrapstring or environment.newline_sequence)


def _format_filter_estimate(value, *args, **kwargs):
    _printf_check(value)
    return len(str(value)) + sum(_size(arg) for arg in (*args, *kwargs.values()))


_BOUNDED_FILTERS = {
    "center": _sized(jinja_filters.do_center, lambda value, width=80: max(len(str(value)),
                                                                           int(width))),
    "indent": _sized(jinja_filters.do_indent, _indent_estimate),
    "replace": _sized(jinja_filters.do_replace, _replace_estimate),
    "wordwrap": _sized(jinja_filters.do_wordwrap, _wordwrap_estimate),
    "format": _sized(jinja_filters.do_format, _format_filter_estimate),
    "join": _sync_join,
}


def _loop_counted(iterable):
    budget = _budget.get()
    if budget is None:
        return iterable
    if isinstance(iterable, _COLLECTIONS) and len(iterable) <= _STEPS:
        # A short list (11 survey links): its items are counted at once, and the loop
        # runs over it as it is, as fast as without the bound.
        budget.steps -= len(iterable)
        if budget.steps < 0:
            budget.check_time()
        return iterable
    return _counted(iterable, budget)


def _counted(iterable, budget: Budget):
    for item in iterable:
        budget.steps -= 1
        if budget.steps < 0:
            budget.check_time()
        yield item


# str methods a template can call that make a larger string from a number or a count.
_WIDTH_METHODS = {"ljust", "rjust", "center", "zfill"}


def _str_method_check(owner: str, name: str, args, kwargs) -> None:
    if name in _WIDTH_METHODS and args and isinstance(args[0], int):
        _too_large(args[0])
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        _too_large(len(owner) + owner.count("\t") * int(size))
    elif name == "replace" and len(args) >= 2:
        _too_large(_replace_estimate(None, owner, args[0], args[1],
                                     args[2] if len(args) > 2 else None))
    elif name == "join" and args:
        _too_large(sum(_size(item) for item in args[0]) + len(owner) * len(args[0]))


# The filter every for loop's iterable runs through (`_BoundedCodeGenerator`).
_LOOP_FILTER = "_loop_counted"


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator, but every for loop's iterable runs through the counting
    filter, and every `~` concatenation and literal through `environment.sized`."""

    def visit_Template(self, node, frame=None):
        for loop in node.find_all(nodes.For):
            counted = isinstance(loop.iter, nodes.Filter) and loop.iter.name == _LOOP_FILTER
            if not loop.recursive and not counted:
                loop.iter = nodes.Filter(loop.iter, _LOOP_FILTER, [], [], None, None,
                                         lineno=loop.lineno)
        super().visit_Template(node, frame)

    def visit_Concat(self, node, frame):
        self.write("environment.sized(")
        super().visit_Concat(node, frame)
        self.write(")")

    # A literal may hold one large string many times, by reference (`[s, s, s, s]`), and
    # print far larger than any value in it: it is measured when it is made.
    def visit_List(self, node, frame):
        self.write("environment.sized(")
        super().visit_List(node, frame)
        self.write(")")

    def visit_Dict(self, node, frame):
        self.write("environment.sized(")
        super().visit_Dict(node, frame)
        self.write(")")

    def visit_Tuple(self, node, frame):
        if node.ctx != "load":  # a target: `{% for key, value in … %}`
            return super().visit_Tuple(node, frame)
        self.write("environment.sized(")
        super().visit_Tuple(node, frame)
        self.write(")")


class BoundedSandboxedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, bounded in time and size while a `Budget` is set.

    The arithmetic operators that can make large values are intercepted (which also stops
    Jinja from folding `9**9**9` while compiling), every call is counted, and the str
    methods and filters that grow a string check the size first.
    """

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters.update(_BOUNDED_FILTERS)
        self.filters = {name: _charged(function) for name, function in self.filters.items()}
        self.filters[_LOOP_FILTER] = _loop_counted

    def getattr(self, obj, attribute):
        # The data a template reads is plain dicts: a key wins over a dict method of the
        # same name, so `event.items` and `order.items` are the lines, not `dict.items`.
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call_binop(self, context, operator, left, right):
        _tick()
        if operator == "*":
            if isinstance(right, int) and not isinstance(left, int):
                _too_large(_size(left) * right)
            elif isinstance(left, int) and not isinstance(right, int):
                _too_large(_size(right) * left)
        elif operator == "%":
            _printf_check(left)
        _int_check(left, right, operator)
        result = super().call_binop(context, operator, left, right)
        if isinstance(result, (str, list, tuple)):
            _too_large(len(result))
        return result

    def call(self, context, obj, /, *args, **kwargs):
        _tick(*args)
        owner = getattr(obj, "__self__", None)
        if isinstance(owner, str):
            _str_method_check(owner, getattr(obj, "__name__", ""), args, kwargs)
        result = super().call(context, obj, *args, **kwargs)
        if isinstance(result, (list, tuple, dict)):  # dict(a=s, b=s, …)
            _too_large(_size(result))
        return result

    def wrap_str_format(self, value):
        wrapper = super().wrap_str_format(value)
        if wrapper is not None:
            _format_check(value.__self__)
        return wrapper

    @staticmethod
    def sized(value):
        _too_large(_size(value))
        return value


def budget_stream(template, context: dict, budget: Budget) -> str:
    """Render one part, stopping as soon as the output passes the size limit.

    The loop over the chunks is all it adds to Jinja's own `render()` (which joins the
    same generator): about 80 ns a chunk. The timer is read in loops and calls, and once
    at the end: a part without either is as long as its source.
    """
    token = _budget.set(budget)
    try:
        chunks = []
        append = chunks.append
        # Characters first (cheap); UTF-8 takes at most 4 bytes for one.
        left = budget.limits.output_bytes - budget.used
        try:
            for chunk in template.root_render_func(template.new_context(context)):
                left -= len(chunk)
                if left < 0:
                    raise budget.too_large()
                append(chunk)
        except Exception:
            template.environment.handle_exception()  # raises it again, with template lines
        budget.check_time()
        rendered = "".join(chunks)
        budget.used += len(rendered)
        budget.done.append(rendered)
        # Bytes are counted only when the characters could come to the limit (rare).
        if budget.used * 4 > budget.limits.output_bytes:
            encoded = sum(len(done.encode("utf-8", "surrogatepass")) for done in budget.done)
            if encoded > budget.limits.output_bytes:
                raise budget.too_large()
        return rendered
    finally:
        _budget.reset(token)
