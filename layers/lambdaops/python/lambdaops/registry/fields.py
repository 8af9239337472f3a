"""Field types the API's shapes share: names, versions, tags and metric names, as the contract bounds them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from lambdaops.core.semver import MODEL_NAME_PATTERN, VERSION_PATTERN

ModelName = Annotated[str, StringConstraints(pattern=MODEL_NAME_PATTERN)]
VersionString = Annotated[str, StringConstraints(pattern=VERSION_PATTERN)]
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=128)]
TagValue = Annotated[str, StringConstraints(max_length=256)]
Tags = Annotated[dict[TagKey, TagValue], Field(max_length=50)]
Description = Annotated[str, StringConstraints(max_length=2048)]
Reason = Annotated[str, StringConstraints(max_length=1024)]
Principal = Annotated[str, StringConstraints(min_length=1, max_length=256)]
MetricName = Annotated[str, StringConstraints(min_length=1, max_length=128)]
ParamValue = float | int | bool | str | None
"""Kept as given; in a request (`lambdaops.core.models.Strict`) a float must be finite. Float first, so
that refusing NaN reports "finite number", not the last type tried."""
