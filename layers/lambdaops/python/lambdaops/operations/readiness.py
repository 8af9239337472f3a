"""`GET /health/predict`: whether the predict function's preloaded models were loaded and warmed.

Lambda routes requests to any warm instance, so this describes the instance that answered: the models of
`LAMBDAOPS_PRELOAD_MODELS`, whether each was loaded and warmed at init (one inference on zeros) and whether
it is still in the model cache (an evicted one is loaded again by its next request). Plain data in, no
serving imports: the operations function's layers have no numpy.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from http import HTTPStatus
from typing import Literal, Protocol

from pydantic import BaseModel, Field


class ModelIdentity(Protocol):
    """A loaded model's name and version (the model cache's `ModelKey` is one)."""

    @property
    def model(self) -> str: ...

    @property
    def version(self) -> str: ...


class PreloadedModel(BaseModel):
    model: str
    version: str | None = Field(description="The production version warmed at init; null when none was")
    warmed: bool = Field(description="Loaded and run once on zeros at init")
    loaded: bool = Field(description="In this instance's model cache now")
    detail: str | None = None


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    models: list[PreloadedModel]

    @property
    def http_status(self) -> int:
        return HTTPStatus.OK if self.status == "ready" else HTTPStatus.SERVICE_UNAVAILABLE


NOT_WARMED = "not warmed at init: see the function's log ('could not preload model')"


def preload_readiness(
    names: Sequence[str], warmed: Iterable[ModelIdentity], in_cache: Collection[ModelIdentity]
) -> Readiness:
    """Ready when every model named for preloading was warmed at init (none named: ready)."""
    warmed_by_name = {key.model: key for key in warmed}
    cached = {(key.model, key.version) for key in in_cache}
    models = []
    for name in names:
        key = warmed_by_name.get(name)
        if key is None:
            missing = PreloadedModel(model=name, version=None, warmed=False, loaded=False, detail=NOT_WARMED)
            models.append(missing)
        else:
            loaded = (key.model, key.version) in cached
            models.append(PreloadedModel(model=name, version=key.version, warmed=True, loaded=loaded))
    status: Literal["ready", "not_ready"] = "ready" if all(m.warmed for m in models) else "not_ready"
    return Readiness(status=status, models=models)
