"""The request-decoding checks in `lambdaops.runtime.http`, without AWS (issue 10, defects 3 and 4)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambdaops.runtime.http import (
    MAX_BODY_BYTES,
    MAX_JSON_DEPTH,
    MAX_NUMBER_DIGITS,
    MalformedJson,
    PayloadTooLarge,
    UnsupportedMediaType,
    check_json,
    decode_request,
    parse_body,
    parse_json,
)
from lambdaops.serving.schemas import PredictRequest


def refusal(text: str) -> str | None:
    try:
        check_json(text)
    except MalformedJson as error:
        return str(error.details["reason"])
    return None


def arrays(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (arrays(MAX_JSON_DEPTH), None),
        (arrays(MAX_JSON_DEPTH + 1), "too_deep"),
        (arrays(5000), "too_deep"),
        ('{"a":' * 40 + "[" * 40 + "]" * 40 + "}" * 40, "too_deep"),  # mixed brackets count alike
        ("[{}]" * 1000, None),  # many brackets, shallow
        ('["]",' * 100 + "1" + "]" * 100, "too_deep"),  # brackets in strings cannot hide real ones
        ("[1,[" * 3000, "too_deep"),  # unclosed: a parser recurses before it finds out
        ('{"a": [1, 2}', None),  # an ordinary typo is the parser's to report
        (json.dumps({"a": "[" * 5000, "b": "{" * 5000}), None),
        (json.dumps({"a": 'x\\"[' * 500}), None),  # escaped quotes do not end a string
        (
            '{"a": "x\\\\", "b": ' + arrays(100) + "}",
            "too_deep",
        ),  # an escaped backslash does not escape the quote
        ("[" + "9" * MAX_NUMBER_DIGITS + "]", None),
        ("[" + "9" * (MAX_NUMBER_DIGITS + 1) + "]", "number_too_long"),
        ('{"a": -1' + "0" * 5000 + "}", "number_too_long"),
        ("[1e" + "0" * 200 + "5]", "number_too_long"),
        ("[0." + "1" * 200 + "]", "number_too_long"),
        (json.dumps({"a": "1" * 5000}), None),  # digits in strings are text
        (json.dumps({"commit": "9" * 200, "rows": [[1.5, 2.25]] * 100}), None),
    ],
)
def test_depth_and_number_size(text: str, reason: str | None) -> None:
    assert refusal(text) == reason


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


@given(JSON_VALUES, st.integers(0, MAX_JSON_DEPTH + 10))
def test_the_scan_agrees_with_the_real_depth(value: Any, wrap: int) -> None:
    for _ in range(wrap):
        value = [value]
    expected = "too_deep" if depth(value) > MAX_JSON_DEPTH else None
    assert refusal(json.dumps(value)) == expected


def event(body: str | None, content_type: str | None = "application/json", **fields: Any) -> dict[str, Any]:
    headers = {"Content-Type": content_type} if content_type else {}
    return {"httpMethod": "POST", "headers": headers, "body": body, "isBase64Encoded": False, **fields}


def test_a_plain_json_body_passes_as_it_is() -> None:
    plain = event('{"a": 1}')
    assert decode_request(plain) is plain
    assert decode_request(event('{"a": 1}', None))["body"] == '{"a": 1}'


@pytest.mark.parametrize("method", ["GET", "DELETE", "HEAD", "OPTIONS"])
def test_requests_without_a_body_method_are_not_read(method: str) -> None:
    untouched = event("\udcff<xml/>", "text/xml", httpMethod=method)
    assert decode_request(untouched) is untouched
    empty = event(None)
    assert decode_request(empty) is empty
    with pytest.raises(UnsupportedMediaType):
        decode_request(event(None, "text/plain"))


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/xml",
        "multipart/form-data",
        "multipart/form-data; boundary=x",
        "application/json-seq",
        "application/x-www-form-urlencoded",
        "application/json; charset=iso-8859-1",
        "json",
    ],
)
def test_types_that_are_not_json_are_415(content_type: str) -> None:
    with pytest.raises(UnsupportedMediaType):
        decode_request(event("{}", content_type))


@pytest.mark.parametrize(
    "content_type",
    ["Application/JSON", "application/problem+json", "application/vnd.api+json; charset=utf-8"],
)
def test_other_json_spellings_are_read_as_json(content_type: str) -> None:
    decoded = decode_request(event("{}", content_type))
    assert decoded["headers"] == {"Content-Type": "application/json"}


def test_base64_bodies_are_decoded_and_must_be_utf8() -> None:
    encoded = event(base64.b64encode('{"a": "é"}'.encode()).decode(), isBase64Encoded=True)
    assert decode_request(encoded) == {**encoded, "body": '{"a": "é"}', "isBase64Encoded": False}
    for body, reason in [(base64.b64encode(b"\xff\xfe").decode(), "not_utf8"), ("!!", "not_base64")]:
        with pytest.raises(MalformedJson) as raised:
            decode_request(event(body, isBase64Encoded=True))
        assert raised.value.details == {"reason": reason}
    with pytest.raises(MalformedJson):
        decode_request(event('{"a": "\udcff"}'))  # a lone surrogate is no UTF-8


def test_size_is_counted_in_bytes() -> None:
    decode_request(event("x" * MAX_BODY_BYTES))
    with pytest.raises(PayloadTooLarge):
        decode_request(event("é" * (MAX_BODY_BYTES // 2 + 1)))
    with pytest.raises(PayloadTooLarge):
        decode_request(event(base64.b64encode(b"x" * (MAX_BODY_BYTES + 1)).decode(), isBase64Encoded=True))


def test_parse_json_and_parse_body_make_the_same_checks() -> None:
    assert parse_json('{"a": [1]}') == {"a": [1]}
    for text in (arrays(3000), "[" + "1" * 5000 + "]"):
        with pytest.raises(MalformedJson):
            parse_json(text)
        with pytest.raises(MalformedJson):
            parse_body(PredictRequest, '{"instances": ' + text + "}")
