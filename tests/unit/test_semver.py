from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambdaops.core.errors import InvalidInput
from lambdaops.core.semver import Bump, SemVer, check_model_name, next_version, parse_version

parts = st.integers(min_value=0, max_value=999_999_999)
triples = st.tuples(parts, parts, parts)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.0.0", SemVer(0, 0, 0)),
        ("1.2.3", SemVer(1, 2, 3)),
        ("10.20.30", SemVer(10, 20, 30)),
        ("999999999.999999999.999999999", SemVer(999_999_999, 999_999_999, 999_999_999)),
    ],
)
def test_parse_reads_the_three_numbers(text: str, expected: SemVer) -> None:
    assert parse_version(text) == expected
    assert str(parse_version(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1",
        "1.0",
        "1.0.0.0",
        "v1.0.0",
        "1.0.0-rc1",
        "1.0.0+build.5",
        "01.0.0",
        "1.00.0",
        "1.0.01",
        "-1.0.0",
        "1..0",
        "1.0.",
        " 1.0.0",
        "1.0.0 ",
        "1.0.x",
        "1000000000.0.0",
        "0.1000000000.0",
        "0.0.99999999999999999999",
    ],
)
def test_parse_refuses_what_is_not_major_minor_patch(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_version(text)
    assert caught.value.details == {"field": "version"}
    assert caught.value.code == "InvalidInput"
    assert caught.value.status == 400


@pytest.mark.parametrize("text", ["1.0.0\n", "1.0.0\r\n"])
def test_parse_refuses_a_trailing_newline(text: str) -> None:
    # `$` in a Python regex also matches just before a final newline; the API must not accept it.
    with pytest.raises(InvalidInput):
        parse_version(text)


@pytest.mark.parametrize("text", ["1\u0661.0.0", "1.0.1\u0662", "2.\u0663.0"])
def test_parse_refuses_non_ascii_digits(text: str) -> None:
    # `\d` matches any Unicode decimal digit: "1<ARABIC-INDIC ONE>.0.0" would be read as 11.0.0.
    with pytest.raises(InvalidInput):
        parse_version(text)


@given(triples)
def test_format_then_parse_round_trips(triple: tuple[int, int, int]) -> None:
    version = SemVer(*triple)
    assert parse_version(str(version)) == version


@given(triples, triples)
def test_padded_sort_key_orders_like_semver(a: tuple[int, int, int], b: tuple[int, int, int]) -> None:
    first, second = SemVer(*a), SemVer(*b)
    assert (first.sort_key < second.sort_key) == (a < b)
    assert (first.sort_key == second.sort_key) == (a == b)


@given(st.lists(triples, min_size=2, max_size=20))
def test_sorting_by_sort_key_sorts_versions(items: list[tuple[int, int, int]]) -> None:
    versions = [SemVer(*t) for t in items]
    assert sorted(versions, key=lambda v: v.sort_key) == sorted(versions)


def test_sort_key_is_fixed_width() -> None:
    assert SemVer(1, 2, 3).sort_key == "000000001.000000002.000000003"
    assert len(SemVer(999_999_999, 0, 12).sort_key) == len(SemVer(0, 0, 0).sort_key)


def test_string_order_alone_would_be_wrong_but_sort_key_is_right() -> None:
    assert sorted(["9.0.0", "10.0.0"]) == ["10.0.0", "9.0.0"]
    assert SemVer(9, 0, 0).sort_key < SemVer(10, 0, 0).sort_key
    assert SemVer(1, 2, 10).sort_key > SemVer(1, 2, 9).sort_key


@pytest.mark.parametrize(
    ("part", "expected"),
    [("major", SemVer(2, 0, 0)), ("minor", SemVer(1, 5, 0)), ("patch", SemVer(1, 4, 8))],
)
def test_bump_resets_the_lower_parts(part: Bump, expected: SemVer) -> None:
    assert SemVer(1, 4, 7).bump(part) == expected


@given(triples.filter(lambda t: max(t) < 999_999_999), st.sampled_from(["major", "minor", "patch"]))
def test_bump_is_always_greater(triple: tuple[int, int, int], part: Bump) -> None:
    version = SemVer(*triple)
    bumped = version.bump(part)
    assert bumped > version
    assert bumped.sort_key > version.sort_key


@pytest.mark.parametrize("part", ["major", "minor", "patch"])
def test_first_version_is_one_whatever_the_bump(part: Bump) -> None:
    assert next_version(None, part) == SemVer(1, 0, 0)


def test_next_version_bumps_the_latest() -> None:
    assert next_version("1.4.7", "major") == SemVer(2, 0, 0)
    assert next_version("1.4.7", "minor") == SemVer(1, 5, 0)
    assert next_version("1.4.7", "patch") == SemVer(1, 4, 8)


def test_next_version_refuses_a_malformed_latest() -> None:
    with pytest.raises(InvalidInput):
        next_version("1.4", "patch")


@pytest.mark.parametrize("name", ["ab", "churn", "churn-model-2", "0model", "a-", "a" * 63, "9" * 2])
def test_valid_model_names(name: str) -> None:
    assert check_model_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "a", "-ab", "Churn", "churn_model", "churn model", "churn.model", "a" * 64, "ümlaut", "churn/x"],
)
def test_invalid_model_names(name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_model_name(name)
    assert caught.value.details == {"field": "name"}


def test_model_name_with_a_trailing_newline_is_invalid() -> None:
    with pytest.raises(InvalidInput):
        check_model_name("churn\n")


@given(st.from_regex(r"\A[a-z0-9][a-z0-9-]{1,62}\Z"))
def test_every_name_the_rule_describes_is_accepted(name: str) -> None:
    assert check_model_name(name) == name
