"""The base of every request shape: unknown fields are refused, so a typo never silently drops a value.

Strict too: a boolean or a string is never taken for a number (nor a number for a string or a boolean),
and a float must be finite, so `NaN`, `Infinity` and `1e999` (which JSON parsing turns into infinity) are
refused wherever a number is accepted. A JSON integer is still a valid float. Strict mode wants an enum
member, not its value, from a parsed body: an enum field of a request says `Field(strict=False)`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
