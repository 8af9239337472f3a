"""Each function's settings, parsed once per process from the environment its declaration sets.

A small base every function shares, a few groups of fields that travel together (one per grant that
sets them), and one model per function holding exactly what it reads, required where it needs them.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class FunctionSettings(BaseSettings):
    """What every function reads: the registry table and the metrics namespace."""

    model_config = SettingsConfigDict(env_prefix="LAMBDAOPS_", extra="ignore", frozen=True)

    table_name: str
    metrics_namespace: str = "lambdaops"


class ArtifactSettings(FunctionSettings):
    bucket_name: str
    max_artifact_bytes: int = Field(default=512 * 1024 * 1024, gt=0)


class EventSettings(FunctionSettings):
    event_bus_name: str
    event_source: str


class HttpSettings(FunctionSettings):
    local_actor: str | None = None
    """Identity used when the request carries no IAM principal (the local stack sets it)."""
    page_size_default: int = Field(default=50, gt=0)
    page_size_max: int = Field(default=100, gt=0)


class RegistrySettings(ArtifactSettings, EventSettings, HttpSettings):
    pass


class PromotionSettings(EventSettings, HttpSettings):
    rollout_state_machine_arn: str
    """The canary rollout state machine, which `POST /models/{name}/canary` starts."""


class PredictSettings(ArtifactSettings):
    model_cache_mb: int = Field(default=512, gt=0)
    """Memory budget of the in-process model cache (artifact bytes as the measure)."""
    artifact_cache_dir: str = "/tmp/lambdaops-artifacts"  # nosec B108 # Lambda's one writable folder, private to its sandbox
    routing_cache_seconds: float = Field(default=5.0, ge=0)
    """How long a model's production version and split are trusted."""
    max_instances: int = Field(default=1000, gt=0)
    capture_sample_rate: float = Field(default=1.0, ge=0, le=1)
    """Share of predictions written to S3 under captures/ (0 turns capture off)."""
    preload_models: str = ""
    """Comma-separated model names whose production versions are loaded and warmed at init."""

    @property
    def preloaded(self) -> list[str]:
        return [name.strip() for name in self.preload_models.split(",") if name.strip()]


class CanarySettings(EventSettings):
    prediction_service: str
    """The predict function's Powertools service name: the `service` dimension of the metrics judged."""


class DriftSettings(ArtifactSettings, HttpSettings):
    alerts_topic_arn: str
    """SNS topic for drift and data-quality alerts."""
    training_state_machine_arn: str
    """Started on the newest dataset when a drifted model's policy asks for retraining."""
    baseline_sample_size: int = Field(default=10_000, gt=0)
    """Bound on the sorted sample a baseline keeps per numeric feature (KS and Wasserstein use it)."""
    max_data_bytes: int = Field(default=256 * 1024 * 1024, gt=0)
    """Largest S3 object a baseline or drift check reads (CSV or JSON Lines)."""
    scan_max_rows: int = Field(default=1_000_000, gt=0)
    """Rows of captured traffic one scheduled scan reads per model; the newest are kept."""


class TrainingSettings(ArtifactSettings, HttpSettings):
    training_state_machine_arn: str
    """Each run is one execution of it, named by the run id."""


class PipelineSettings(ArtifactSettings, EventSettings):
    """The training state machine's steps: where jobs run and what they run."""

    sagemaker_role_arn: str
    training_image_repository: str
    """`<account>.dkr.ecr.<region>.amazonaws.com/pytorch-training` for the stack's region."""
    training_image_version: str
    training_image_python: str
    trainer_source_uri: str
    """The reference trainer's source archive (`sagemaker_submit_directory`)."""
    default_instance_type: str = "ml.g5.xlarge"
    default_max_runtime_seconds: int = Field(default=3600, ge=60)
    default_spot: bool = True
    max_data_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    """Largest model archive or evaluation file a step reads."""


class OperationsSettings(FunctionSettings):
    """`GET /health` and `GET /metrics`."""

    bucket_name: str
    """Checked by `GET /health`."""
    prediction_service: str
    """The predict function's Powertools service name: the prediction series are read from it."""
    metrics_cache_seconds: float = Field(default=60.0, ge=0)
    """How long a read of CloudWatch answers `GET /metrics` (EMF's resolution is one minute)."""
    health_timeout_seconds: float = Field(default=3.0, gt=0)
    """How long `GET /health` waits for each dependency before calling it failed."""
