"""Pydantic shapes of prediction: the request and the reply."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, StringConstraints

from lambdaops.core.models import Strict
from lambdaops.registry.fields import VersionString


class PredictRequest(Strict):
    instances: list[Any]
    """Rows as arrays or as records keyed by feature name; checked against the version's schema by
    `lambdaops.serving.instances.InstanceEncoder` (pydantic would coerce `true` to 1.0 before the
    schema could refuse it)."""
    version: VersionString | None = None
    routing_key: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None


class PredictResponse(BaseModel):
    predictions: list[Any]
    model: str
    version: str
    variant: str
