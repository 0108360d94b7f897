"""The one clock: every time-dependent decision in the domain reads `now()`.

Tests and the simulator move it with `clock.frozen_at(moment)`; otherwise it is the wall
clock. The override lives in a context variable so threads and tasks started inside a
frozen block see the same virtual time only when they run in that context.
"""
import contextlib
import contextvars
import datetime as dt

from django.utils import timezone

_virtual_now: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar(
    "virtual_now", default=None
)


def now() -> dt.datetime:
    """The current moment (aware, UTC)."""
    virtual = _virtual_now.get()
    return virtual if virtual is not None else timezone.now()


@contextlib.contextmanager
def frozen_at(moment: dt.datetime):
    """Make `now()` return `moment` inside the block (moment must be aware)."""
    if timezone.is_naive(moment):
        raise ValueError("clock.frozen_at needs an aware datetime")
    token = _virtual_now.set(moment.astimezone(dt.timezone.utc))
    try:
        yield
    finally:
        _virtual_now.reset(token)


def set_virtual(moment: dt.datetime | None) -> None:
    """Set (or clear with None) the virtual time for the rest of this context."""
    _virtual_now.set(None if moment is None else moment.astimezone(dt.timezone.utc))
