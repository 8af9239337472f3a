"""Semantic versions (MAJOR.MINOR.PATCH) and the model name rule from the API contract."""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

from lambdaops.core.errors import InvalidInput

MODEL_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
# ASCII digits only (\d would admit any Unicode digit); matched whole with fullmatch.
VERSION_PATTERN = r"^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})$"
_VERSION = re.compile(VERSION_PATTERN)
_MODEL_NAME = re.compile(MODEL_NAME_PATTERN)

Bump = Literal["major", "minor", "patch"]


class SemVer(NamedTuple):
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def sort_key(self) -> str:
        """Zero-padded so that DynamoDB's string order is version order."""
        return f"{self.major:09d}.{self.minor:09d}.{self.patch:09d}"

    def bump(self, part: Bump) -> SemVer:
        if part == "major":
            return SemVer(self.major + 1, 0, 0)
        if part == "minor":
            return SemVer(self.major, self.minor + 1, 0)
        return SemVer(self.major, self.minor, self.patch + 1)


def parse_version(text: str) -> SemVer:
    match = _VERSION.fullmatch(text)
    if not match:
        raise InvalidInput(f"'{text}' is not a semantic version MAJOR.MINOR.PATCH", field="version")
    major, minor, patch = (int(group) for group in match.groups())
    return SemVer(major, minor, patch)


def next_version(latest: str | None, bump: Bump) -> SemVer:
    """The version after `latest`; the first version of a model is 1.0.0 whatever the bump."""
    if latest is None:
        return SemVer(1, 0, 0)
    return parse_version(latest).bump(bump)


def check_model_name(name: str) -> str:
    if not _MODEL_NAME.fullmatch(name):
        raise InvalidInput(f"'{name}' is not a valid model name ({MODEL_NAME_PATTERN})", field="name")
    return name
