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
    metrics_namespace: str = "lambdaops"
    rollout_state_machine_arn: str | None = None
    """The canary rollout state machine (promotion function only)."""
    model_cache_mb: int = Field(default=512, gt=0)
    """Memory budget of the predict function's in-process model cache (artifact bytes as the measure)."""
    artifact_cache_dir: str = "/tmp/lambdaops-artifacts"
    routing_cache_seconds: float = Field(default=5.0, ge=0)
    """How long the predict function trusts its copy of a model's production version and split."""
    max_instances: int = Field(default=1000, gt=0)
    capture_sample_rate: float = Field(default=1.0, ge=0, le=1)
    """Share of predictions written to S3 under captures/ (0 turns capture off)."""
    preload_models: str = ""
    """Comma-separated model names whose production versions are loaded and warmed at init."""
    alerts_topic_arn: str | None = None
    """SNS topic for drift and data-quality alerts (drift function only)."""
    training_state_machine_arn: str | None = None
    """Started when a drifted model's policy asks for retraining; without it, an event is published."""
    baseline_sample_size: int = Field(default=10_000, gt=0)
    """Bound on the sorted sample a baseline keeps per numeric feature (KS and Wasserstein use it)."""
    max_data_bytes: int = Field(default=256 * 1024 * 1024, gt=0)
    """Largest S3 object a baseline or drift check reads (CSV or JSON Lines)."""
    scan_max_rows: int = Field(default=1_000_000, gt=0)
    """Rows of captured traffic one scheduled scan reads per model; the newest are kept."""
