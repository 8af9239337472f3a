"""Data-parallel training across SageMaker hosts: one process per host, its rank its place in SM_HOSTS.

Every rank reads the whole channels (SageMaker's default FullyReplicated distribution) and trains on its
own stride of the rows; sums of metrics are all-reduced so that every rank takes the same early-stopping
decision. Only the leader (rank 0) writes checkpoints, metric lines and the model folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import torch
import torch.distributed as dist

from lambdaops_trainer.environment import TrainingEnvironment

T = TypeVar("T")
ArrayT = TypeVar("ArrayT", bound=np.generic)
JOIN_TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class Cluster:
    rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_leader(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def shard(self, rows: npt.NDArray[ArrayT], equal: bool = False) -> npt.NDArray[ArrayT]:
        """This rank's stride of the rows; `equal` trims every rank to the same count (same step count)."""
        if not self.distributed:
            return rows
        mine = rows[self.rank :: self.world_size]
        return mine[: len(rows) // self.world_size] if equal else mine

    def sum(self, values: Sequence[float]) -> list[float]:
        """Element-wise sums over all ranks."""
        if not self.distributed:
            return list(values)
        total = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(total)
        summed: list[float] = total.tolist()
        return summed

    def from_leader(self, value: T) -> T:
        """The leader's `value` on every rank."""
        if not self.distributed:
            return value
        box: list[Any] = [value]
        dist.broadcast_object_list(box, src=0, device=self.device)
        shared: T = box[0]
        return shared

    def gather(self, value: T) -> list[T]:
        """Every rank's `value`, in rank order, on every rank."""
        if not self.distributed:
            return [value]
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, value)
        return gathered


def join_cluster(env: TrainingEnvironment, device: torch.device) -> Cluster:
    """This host's place in the job: a process group when SM_HOSTS names more than one host."""
    if env.world_size == 1:
        return Cluster(device=device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(
        "nccl" if device.type == "cuda" else "gloo",
        init_method=f"tcp://{env.master_addr}:{env.master_port}",
        rank=env.rank,
        world_size=env.world_size,
        timeout=JOIN_TIMEOUT,
    )
    return Cluster(env.rank, env.world_size, device)


def leave_cluster(cluster: Cluster) -> None:
    if cluster.distributed and dist.is_initialized():
        dist.destroy_process_group()
