"""Naming a JSON value's kind in an error message ("expected a number, got a string")."""

from __future__ import annotations

_KINDS: dict[type, str] = {
    bool: "a boolean",
    str: "a string",
    type(None): "null",
    list: "an array",
    dict: "an object",
}


def json_kind(value: object) -> str:
    return _KINDS.get(type(value), type(value).__name__)
