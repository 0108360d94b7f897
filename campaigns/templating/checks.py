"""What is wrong with a draft template, part by part, in words a marketer can act on.

The live preview shows these next to the part they concern, each with its line: syntax
errors, names no template can read (a typo such as `custmer`, or `customer.nickname`),
and runtime errors with the sample data. The names a template may read are the sample
context's (templating.SAMPLE_CONTEXT), which holds every variable of every journey.
"""
import difflib
import re

import jinja2
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from jinja2 import meta, nodes

from campaigns.templating import _ENVIRONMENTS, PARTS, SAMPLE_CONTEXT

# Under these the keys are the shop's own (custom or product attributes, an event's
# properties): any name may be there.
_OPEN_KEYS = {"attributes", "properties"}
# A name read through these is allowed to be missing: the template says what to do then.
_GUARDS = {"default", "d"}
_GUARD_TESTS = {"defined", "undefined", "none"}


def _guarded(ast) -> set[int]:
    """ids of the expressions a template guards with `| default(…)` or `is defined`."""
    guarded = set()
    for node in ast.find_all((nodes.Filter, nodes.Test)):
        if node.node is not None and node.name in (_GUARDS if isinstance(node, nodes.Filter)
                                                   else _GUARD_TESTS):
            guarded.add(id(node.node))
    return guarded


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return close[0] if close else ""


def _unknown_names(ast) -> list[tuple[int, str, str]]:
    """(line, the unknown name as written, a suggestion or "") for each unknown read."""
    undeclared = meta.find_undeclared_variables(ast)
    guarded = _guarded(ast)
    found, seen = [], set()
    for node in ast.find_all(nodes.Name):
        if node.ctx == "load" and node.name in undeclared and node.name not in SAMPLE_CONTEXT:
            if id(node) not in guarded and (node.lineno, node.name) not in seen:
                seen.add((node.lineno, node.name))
                found.append((node.lineno, node.name, _suggest(node.name, SAMPLE_CONTEXT)))
    for node in ast.find_all(nodes.Getattr):
        path, inner, guard = [], node, id(node) in guarded
        while isinstance(inner, nodes.Getattr):
            path.insert(0, inner.attr)
            inner = inner.node
            guard = guard or id(inner) in guarded
        if guard or not isinstance(inner, nodes.Name) or inner.name not in undeclared:
            continue
        value = SAMPLE_CONTEXT.get(inner.name)
        written = inner.name
        for attr in path:
            if not isinstance(value, dict) or written.rsplit(".", 1)[-1] in _OPEN_KEYS:
                break  # a list, a text or a number: its methods are the sandbox's business
            if attr not in value:
                name = f"{written}.{attr}"
                if (node.lineno, name) not in seen:
                    seen.add((node.lineno, name))
                    hint = _suggest(attr, value)
                    found.append((node.lineno, name, f"{written}.{hint}" if hint else ""))
                break
            written, value = f"{written}.{attr}", value[attr]
    return sorted(found)


# The parts as the editor names them.
_PART_NAMES = {"subject": gettext_lazy("Subject"), "html": gettext_lazy("HTML"),
               "text": gettext_lazy("Text")}


def _segment_calls(ast):
    """The `in_segment(…)` calls of a template: (line, the literal name or None)."""
    for call in ast.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name == "in_segment":
            literal = call.args[0] if len(call.args) == 1 and not call.kwargs else None
            yield call.lineno, (literal.value if isinstance(literal, nodes.Const)
                                and isinstance(literal.value, str) else None)


def draft_notes(*, subject: str, html_body: str, text_body: str, segments: set[str]) -> list[str]:
    """What a marketer should know but that does not stop the template: each
    `in_segment("…")` naming no segment among `segments` (the existing ones), which is
    always false."""
    notes = []
    for part, source in (("subject", subject), ("html", html_body), ("text", text_body)):
        try:
            ast = _ENVIRONMENTS[PARTS[part][0]].parse(source)
        except jinja2.TemplateSyntaxError:
            continue
        for line, name in _segment_calls(ast):
            if name is not None and name not in segments:
                notes.append(_("%(part)s, line %(line)s: no segment called “%(name)s”, so "
                               "in_segment(“%(name)s”) is always false. Check its name on the "
                               "Segments page.") % {
                    "part": _PART_NAMES[part], "line": line, "name": name})
    return notes


def draft_problems(*, subject: str, html_body: str, text_body: str, purpose: str,
                   in_layout: bool = False) -> dict:
    """{"subject": [...], "html": [...], "text": [...]}: what a marketer must fix in each
    part before the template can be sent (empty lists when nothing). Compiles only.
    `in_layout`: the HTML goes inside a layout, so it must not be a whole email itself."""
    problems = {"subject": [], "html": [], "text": []}
    if in_layout and re.search(r"<(html|body)[\s>]", html_body, re.IGNORECASE):
        problems["html"].append(_(
            "This HTML is a whole email (it has <html> or <body>), but it goes inside the "
            "layout. Keep only the message itself, or tick “no layout”."))
    for part, source in (("subject", subject), ("html", html_body), ("text", text_body)):
        try:
            ast = _ENVIRONMENTS[PARTS[part][0]].parse(source)
        except jinja2.TemplateSyntaxError as error:
            problems[part].append(_("Line %(line)s: %(problem)s") % {
                "line": error.lineno, "problem": error.message})
            continue
        for line, name, hint in _unknown_names(ast):
            if hint:
                message = _("Line %(line)s: there is no variable “%(name)s”. Did you mean "
                            "“%(hint)s”?") % {"line": line, "name": name, "hint": hint}
            else:
                message = _("Line %(line)s: there is no variable “%(name)s”. The list of "
                            "variables shows what you can use.") % {"line": line, "name": name}
            problems[part].append(message)
        for line, name in _segment_calls(ast):
            if name is None:
                problems[part].append(_(
                    "Line %(line)s: write the segment's name in quotes, e.g. "
                    "in_segment(\"VIP\"): the email can only check segments it names.")
                    % {"line": line})
        if purpose != "marketing" and "unsubscribe_url" in meta.find_undeclared_variables(ast):
            problems[part].append(_(
                "A transactional email has no unsubscribe link: “unsubscribe_url” would be "
                "empty. Remove it, or make the template a marketing one."))
    if purpose == "marketing" and not text_body.strip():
        problems["text"].append(_(
            "A marketing email needs a text part too: some mail apps show no HTML, and spam "
            "filters distrust emails without one."))
    if not subject.strip():
        problems["subject"].append(_("The subject is empty."))
    return problems
