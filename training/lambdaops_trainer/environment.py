"""The SM_* contract: where SageMaker (or a local runner) puts channels, the model, outputs and peers.

`SM_CHECKPOINT_DIR` is ours, not SageMaker's: it defaults to `/opt/ml/checkpoints`, the local path a
job's CheckpointConfig syncs with S3, so a spot job that is interrupted resumes where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from lambdaops_trainer.failure import InvalidEnvironment

DEFAULT_MODEL_DIR = "/opt/ml/model"
DEFAULT_OUTPUT_DATA_DIR = "/opt/ml/output/data"
DEFAULT_OUTPUT_DIR = "/opt/ml/output"
DEFAULT_CHECKPOINT_DIR = "/opt/ml/checkpoints"
DEFAULT_MASTER_PORT = 29500


def output_dir(environ: Mapping[str, str]) -> Path:
    """Where the failure file goes: read on its own, so that every other failure can be written there."""
    return Path(environ.get("SM_OUTPUT_DIR") or DEFAULT_OUTPUT_DIR)


@dataclass(frozen=True)
class TrainingEnvironment:
    train_dir: Path
    validation_dir: Path
    holdout_dir: Path | None
    model_dir: Path
    output_data_dir: Path
    output_dir: Path
    checkpoint_dir: Path
    hyperparameters: Mapping[str, object]
    hosts: tuple[str, ...]
    current_host: str
    num_gpus: int | None
    """None when SM_NUM_GPUS is unset: use a GPU if there is one."""
    master_addr: str
    master_port: int

    @property
    def world_size(self) -> int:
        return len(self.hosts)

    @property
    def rank(self) -> int:
        return self.hosts.index(self.current_host)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Self:
        hosts = _json(environ, "SM_HOSTS", '["algo-1"]')
        if not (isinstance(hosts, list) and hosts and all(isinstance(h, str) and h for h in hosts)):
            raise InvalidEnvironment(f"SM_HOSTS must be a JSON list of host names; got {hosts!r}")
        if len(set(hosts)) != len(hosts):
            raise InvalidEnvironment(f"SM_HOSTS names a host twice: {hosts!r}")
        current = environ.get("SM_CURRENT_HOST") or "algo-1"
        if current not in hosts:
            raise InvalidEnvironment(f"SM_CURRENT_HOST {current!r} is not in SM_HOSTS {hosts!r}")
        hps = _json(environ, "SM_HPS", "{}")
        if not isinstance(hps, dict):
            raise InvalidEnvironment(f"SM_HPS must be a JSON object; got {type(hps).__name__}")
        holdout = environ.get("SM_CHANNEL_HOLDOUT")
        return cls(
            train_dir=_channel(environ, "SM_CHANNEL_TRAIN"),
            validation_dir=_channel(environ, "SM_CHANNEL_VALIDATION"),
            holdout_dir=Path(holdout) if holdout else None,
            model_dir=Path(environ.get("SM_MODEL_DIR") or DEFAULT_MODEL_DIR),
            output_data_dir=Path(environ.get("SM_OUTPUT_DATA_DIR") or DEFAULT_OUTPUT_DATA_DIR),
            output_dir=output_dir(environ),
            checkpoint_dir=Path(environ.get("SM_CHECKPOINT_DIR") or DEFAULT_CHECKPOINT_DIR),
            hyperparameters=hps,
            hosts=tuple(hosts),
            current_host=current,
            num_gpus=_integer(environ, "SM_NUM_GPUS"),
            master_addr=environ.get("MASTER_ADDR") or hosts[0],
            master_port=_integer(environ, "MASTER_PORT") or DEFAULT_MASTER_PORT,
        )


def _channel(environ: Mapping[str, str], name: str) -> Path:
    value = environ.get(name)
    if not value:
        raise InvalidEnvironment(f"{name} is not set: the job needs this channel")
    return Path(value)


def _json(environ: Mapping[str, str], name: str, default: str) -> object:
    text = environ.get(name) or default
    try:
        value: object = json.loads(text)
    except ValueError:
        raise InvalidEnvironment(f"{name} is not valid JSON: {text[:200]!r}") from None
    return value


def _integer(environ: Mapping[str, str], name: str) -> int | None:
    text = environ.get(name)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidEnvironment(f"{name} must be a whole number; got {text!r}") from None
