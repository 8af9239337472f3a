"""The base of every request shape: unknown fields are refused, so a typo never silently drops a value."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
