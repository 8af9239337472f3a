"""Configuration from the environment, parsed once per process into one typed object."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob a function reads; CDK and the local stack set the same variables."""

    model_config = SettingsConfigDict(env_prefix="LAMBDAOPS_", extra="ignore", frozen=True)

    table_name: str
    bucket_name: str
    event_bus_name: str = "default"
    event_source: str = "lambdaops.registry"
    max_artifact_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    page_size_default: int = Field(default=50, gt=0)
    page_size_max: int = Field(default=100, gt=0)
    local_actor: str | None = None
    """Identity used when the request carries no IAM principal (the local stack sets it)."""
