"""Reads of the audit trail: a row's changes (and its parts'), before and after, in words."""
import datetime as dt
import difflib
import json
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.audit import AUDITED, Audited, audited

# Text fields longer than this are shown as the lines that changed, not whole.
LONG_TEXT = 120
# The newest changes shown on a page; older ones stay in the table.
LIMIT = 200


@dataclass
class Change:
    label: str
    before: str
    after: str
    # For long texts (a template's HTML): the changed lines, "-" removed and "+" added.
    diff: list[str] = field(default_factory=list)


@dataclass
class Entry:
    at: dt.datetime
    who: str
    action: str
    what: str
    changes: list[Change]


def _parts(root: Audited, pk) -> list[tuple[Audited, models.QuerySet]]:
    """The history rows of the row itself and of its parts, a query per audited model."""
    found = [(root, root.model.history.filter(**{root.model._meta.pk.attname: pk}))]
    parents = {root.model: {pk}}
    for entry in AUDITED:
        if entry.parent is None:
            continue
        parent_model = entry.model._meta.get_field(entry.parent).related_model
        if parent_model not in parents:
            continue
        rows = list(entry.model.history.filter(
            **{f"{entry.parent}_id__in": parents[parent_model]}).order_by("history_date", "history_id"))
        parents[entry.model] = {row.id for row in rows}
        found.append((entry, rows))
    return found


def audit_deleted(*, model, limit: int = 50) -> list:
    """The audit trail's last copies of deleted rows of `model`, newest first."""
    root = audited(model)
    return list(root.model.history.filter(history_type="-")
                .order_by("-history_date", "-history_id")[:limit]) if root else []


def audit_trail(*, obj=None, model=None, pk=None, limit: int = LIMIT) -> list[Entry] | None:
    """Every recorded change of `obj` (or of the row `pk` of `model`, deleted or not) and of
    its parts (a campaign's steps and variants, a template's translations), newest first;
    None when its model is not audited."""
    model, pk = (type(obj), obj.pk) if obj is not None else (model, pk)
    root = audited(model)
    if root is None:
        return None
    records = []
    for entry, rows in _parts(root, pk):
        records += [(entry, row) for row in rows]
    records.sort(key=lambda item: (item[1].history_date, item[1].history_id))
    users = dict(get_user_model().objects.filter(
        pk__in={row.history_user_id for _, row in records if row.history_user_id}
    ).values_list("pk", get_user_model().USERNAME_FIELD))
    names = _related_names(records)
    previous: dict[tuple, object] = {}
    entries = []
    for entry, row in records:
        key = (entry.model, row.id)
        before = previous.get(key)
        previous[key] = row
        changes = _changes(entry, before, row, names)
        if row.history_type == "~" and not changes:
            continue  # saved without a change a marketer could see
        entries.append(Entry(
            at=timezone.localtime(row.history_date),
            who=users.get(row.history_user_id) or _("the system (scheduler, import or command)"),
            action={"+": _("created"), "~": _("changed"), "-": _("deleted")}[row.history_type],
            what=_what(entry, row),
            changes=changes if row.history_type != "-" else [],
        ))
    entries.reverse()
    return entries[:limit]


def _what(entry: Audited, row) -> str:
    name = entry.model.__name__
    if name == "JourneyStep":
        return _("step %(position)s (%(kind)s)") % {
            "position": row.position, "kind": _display(entry.model, "kind", row.kind)}
    if name == "StepVariant":
        return _("A/B variant “%(name)s”") % {"name": row.name}
    if name == "TemplateTranslation":
        return _("translation “%(locale)s”") % {"locale": row.locale}
    return str(entry.model._meta.verbose_name)


def _tracked(entry: Audited):
    return [f for f in entry.model._meta.concrete_fields
            if f.name not in entry.exclude and f.editable and not f.primary_key
            and f.name != (entry.parent or "")]


def _related_names(records) -> dict[tuple, str]:
    """The names of the rows foreign keys point at (a step's template): a query per model."""
    wanted: dict[type, set] = {}
    for entry, row in records:
        for f in _tracked(entry):
            if f.is_relation and getattr(row, f.attname) is not None:
                wanted.setdefault(f.related_model, set()).add(getattr(row, f.attname))
    names = {}
    for model, ids in wanted.items():
        for pk, obj in model._default_manager.in_bulk(ids).items():
            names[(model, pk)] = str(obj)
    return names


def _changes(entry: Audited, before, after, names) -> list[Change]:
    changes = []
    for f in _tracked(entry):
        new = getattr(after, f.attname)
        old = getattr(before, f.attname) if before is not None else None
        if before is not None and old == new:
            continue
        if before is None and new in (None, "", [], {}):
            continue  # a new row's empty fields say nothing
        old_text, new_text = _words(f, old, names), _words(f, new, names)
        diff = []
        if isinstance(f, models.TextField) or max(len(old_text), len(new_text)) > LONG_TEXT:
            diff = [line for line in difflib.unified_diff(
                old_text.splitlines(), new_text.splitlines(), lineterm="", n=0)
                if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        changes.append(Change(label=str(f.verbose_name).capitalize(),
                              before=old_text if before is not None else "",
                              after=new_text, diff=diff))
    return changes


def _display(model, name: str, value) -> str:
    choices = dict(model._meta.get_field(name).flatchoices)
    return str(choices.get(value, value))


def _words(f, value, names) -> str:
    """A stored value as a marketer reads it: labels, names, durations, plain lists."""
    from campaigns.admin.deliveries import duration_words

    if value is None or value == "":
        return "—"
    if f.is_relation:
        return names.get((f.related_model, value), _("#%(id)s (deleted)") % {"id": value})
    if f.flatchoices:
        return str(dict(f.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, dt.timedelta):
        return duration_words(value)
    if isinstance(value, dt.datetime):
        return f"{timezone.localtime(value):%Y-%m-%d %H:%M}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value) or "—"
    return str(value)


def _plain(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
