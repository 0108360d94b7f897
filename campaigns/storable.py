"""The one rule for text from outside: what the database cannot store is refused, by field.

PostgreSQL refuses NUL (U+0000) in text and in jsonb, and a lone UTF-16 surrogate half
(U+D800-U+DFFF, which JSON's "\\ud800" escape produces) cannot be encoded as UTF-8 at all.
The API, the public pages and the CSV imports all ask this module, so SQLite (which would
store either) and PostgreSQL answer alike: a 4xx or a rejected row, never a 500.
"""
import dataclasses
import re
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

NUL_MESSAGE = "Contains a NUL character (\\u0000), which cannot be stored; remove it."
SURROGATE_MESSAGE = (
    "Contains an unpaired surrogate (\\ud800-\\udfff), which is not a character and "
    "cannot be stored; send the text as UTF-8, or escape a character outside the Basic "
    "Multilingual Plane as a surrogate pair."
)


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored, or None when it can."""
    match = _UNSTORABLE.search(value)
    if match is None:
        return None
    return NUL_MESSAGE if match.group() == "\x00" else SURROGATE_MESSAGE


def text_storable(value: str) -> bool:
    return _UNSTORABLE.search(value) is None


@dataclasses.dataclass(frozen=True)
class Unstorable:
    """Where in a parsed JSON document (keys and list positions) a bad string is."""

    path: tuple[str | int, ...]
    message: str


def unstorable_find(document: Any) -> list[Unstorable]:
    """Every string (object key or value, at any depth) of `document` that cannot be stored.

    A bad key is reported at the path of its object, since the key itself cannot be
    named. Iterative, so a deeply nested document cannot exhaust the stack.
    """
    found = []
    stack: list[tuple[tuple, Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if (message := text_problem(value)) is not None:
                found.append(Unstorable(path, message))
        elif isinstance(value, dict):
            children = []
            for key, item in value.items():
                if isinstance(key, str) and (message := text_problem(key)) is not None:
                    # What lies under a bad key is not looked at: its path cannot be named.
                    found.append(Unstorable(path, f"An object key here: {message[0].lower()}"
                                                  f"{message[1:]}"))
                else:
                    children.append(((*path, key), item))
            # Reversed, so that the problems come out in the order the document reads.
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend(((*path, index), value[index]) for index in reversed(range(len(value))))
    return found
