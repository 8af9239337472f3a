"""The scan's pure pieces: which captured objects are new since a cursor, and which rows it checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from lambdaops.monitoring.drift.monitor import captured_rows
from lambdaops.monitoring.drift.stores import CapturedObject, ScanCursor

AT = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


def captured(key: str, seconds: int, *records: dict[str, object]) -> CapturedObject:
    body = "".join(json.dumps(record) + "\n" for record in records).encode()
    return CapturedObject(key, AT + timedelta(seconds=seconds), body)


def test_a_cursor_is_the_newest_time_read_and_the_keys_read_at_it() -> None:
    objects = [captured("a", 0), captured("b", 5), captured("c", 5)]
    assert ScanCursor.after(objects) == ScanCursor(AT + timedelta(seconds=5), frozenset({"b", "c"}))
    assert ScanCursor.after([]) is None


def test_an_object_is_new_when_later_or_unread_in_the_cursors_own_second() -> None:
    # S3 keeps whole seconds: another object can still land in the second the last scan read up to.
    cursor = ScanCursor(AT, frozenset({"read"}))
    assert cursor.is_new("later", AT + timedelta(seconds=1))
    assert cursor.is_new("same-second", AT)
    assert not cursor.is_new("read", AT)
    assert not cursor.is_new("older", AT - timedelta(seconds=1))


def test_captured_rows_keep_the_versions_features_newest_objects_first_up_to_the_limit() -> None:
    newest = captured(
        "n",
        9,
        {"version": "2.0.0", "features": {"x": 1}},
        {"version": "1.0.0", "features": {"x": 2}},
        {"version": "2.0.0", "features": {"x": 3}},
    )
    older = captured("o", 1, {"version": "2.0.0", "features": {"x": 4}})
    assert captured_rows([newest, older], "2.0.0", max_rows=10) == [{"x": 1}, {"x": 3}, {"x": 4}]
    assert captured_rows([newest, older], "2.0.0", max_rows=2) == [{"x": 1}, {"x": 3}]
    assert captured_rows([newest, older], "9.9.9", max_rows=10) == []
