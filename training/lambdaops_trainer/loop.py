"""Training: the dataset resident on the device, batches taken by index from a per-epoch permutation.

No DataLoader: each epoch gathers the rows in a fresh `randperm` order once, and a batch is a slice of
that, so the Python work per batch is the forward, backward and step. The preprocessing has no weights,
so it is applied once, before the first epoch. On CUDA the forward runs under bf16 autocast; on CPU the
same code runs in float32. Validation runs in large chunks under `inference_mode`. Early stopping keeps
the best epoch's weights, and a checkpoint after every epoch lets an interrupted job resume.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn
from torch.nn import functional
from torch.nn.parallel import DistributedDataParallel

from lambdaops_trainer.checkpoints import CheckpointStore
from lambdaops_trainer.cluster import Cluster
from lambdaops_trainer.data import Dataset
from lambdaops_trainer.failure import IncompatibleCheckpoint, InvalidData
from lambdaops_trainer.hyperparameters import Hyperparameters
from lambdaops_trainer.model import TabularClassifier

EVALUATION_CHUNK = 65_536
CHECKPOINT_FORMAT = 1


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int
    train_loss: float
    validation_loss: float
    validation_accuracy: float

    def line(self) -> str:
        """The line SageMaker's metric definitions read (one regex per metric)."""
        return (
            f"epoch={self.epoch}; train:loss={self.train_loss:.6f}; "
            f"validation:loss={self.validation_loss:.6f}; "
            f"validation:accuracy={self.validation_accuracy:.6f};"
        )


@dataclass(frozen=True)
class Evaluation:
    loss: float
    accuracy: float
    rows: int


@dataclass(frozen=True)
class FitResult:
    model: TabularClassifier
    """The best epoch's weights, on the CPU, in eval mode."""
    best: EpochMetrics
    epochs_run: int
    history: tuple[EpochMetrics, ...]
    """This run's epochs and, when it resumed, those before it."""
    resumed_from: int | None

    def metrics(self) -> dict[str, float | int]:
        return {
            "validation:accuracy": self.best.validation_accuracy,
            "validation:loss": self.best.validation_loss,
            "train:loss": self.best.train_loss,
            "best_epoch": self.best.epoch,
            "epochs_run": self.epochs_run,
        }


@dataclass
class _Progress:
    history: list[EpochMetrics] = field(default_factory=list)
    best: EpochMetrics | None = None
    best_state: dict[str, Tensor] = field(default_factory=dict)
    stale_epochs: int = 0

    def record(self, metrics: EpochMetrics, network: nn.Module) -> None:
        self.history.append(metrics)
        if self.best is None or metrics.validation_accuracy > self.best.validation_accuracy:
            self.best = metrics
            self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in network.state_dict().items()}
            self.stale_epochs = 0
        else:
            self.stale_epochs += 1


def default_device(num_gpus: int | None = None) -> torch.device:
    """CUDA when there is a GPU and SM_NUM_GPUS (None: unset) does not say 0; else the CPU."""
    if torch.cuda.is_available() and (num_gpus is None or num_gpus > 0):
        return torch.device("cuda", 0)
    return torch.device("cpu")


def fit(
    train: Dataset,
    validation: Dataset,
    hp: Hyperparameters,
    device: torch.device | None = None,
    *,
    checkpoints: CheckpointStore | None = None,
    cluster: Cluster | None = None,
    report: Callable[[str], None] = print,
) -> FitResult:
    """Train on `train`, early-stopping on `validation` accuracy; `report` hears each epoch's line.

    With a cluster every rank calls this with the same data and `checkpoints` (only the leader writes).
    """
    device = device or default_device()
    cluster = cluster or Cluster(device=device)
    if train.rows < cluster.world_size:
        raise InvalidData(f"the train channel has {train.rows} rows for {cluster.world_size} hosts")
    torch.manual_seed(hp.seed)
    model = TabularClassifier.build(train.schema, train.x, hp)
    x_train, y_train = _resident(model, cluster.shard(train.x, True), cluster.shard(train.y, True), device)
    x_val, y_val = _resident(model, cluster.shard(validation.x), cluster.shard(validation.y), device)
    network = model.network.to(device)
    optimizer = torch.optim.AdamW(
        network.parameters(), lr=hp.learning_rate, weight_decay=hp.weight_decay, fused=True
    )
    trained: nn.Module = network
    if cluster.distributed:
        trained = DistributedDataParallel(network, device_ids=[device] if device.type == "cuda" else None)
    shuffle = torch.Generator(device=device)
    shuffle.manual_seed(hp.seed + cluster.rank)
    autocast = _autocast(device)
    shape = {
        "inputs": len(train.schema.features),
        "width": model.preprocessing.width,
        "classes": len(train.schema.classes),
        "hidden_units": hp.hidden_units,
        "hidden_layers": hp.hidden_layers,
    }
    progress = _Progress()
    saved = cluster.from_leader(checkpoints.latest() if checkpoints and cluster.is_leader else None)
    if saved is not None:
        if saved.get("format") != CHECKPOINT_FORMAT or saved.get("shape") != shape:
            folder = checkpoints.directory if checkpoints else "the checkpoint folder"
            raise IncompatibleCheckpoint(
                f"the checkpoint in {folder} is for a model of {saved.get('shape')}; "
                f"this job builds {shape}: give the job an empty checkpoint folder"
            )
        progress = _restore(saved, network, optimizer, shuffle, cluster.rank, device)
        if cluster.is_leader:
            report(f"resumed from checkpoint at epoch {saved['epoch']}")
    start = 1 if saved is None else int(saved["epoch"]) + 1
    for epoch in range(start, hp.epochs + 1):
        if progress.stale_epochs >= hp.patience:
            break
        loss_sum = _train_epoch(trained, optimizer, x_train, y_train, hp.batch_size, shuffle, autocast)
        train_loss = cluster.sum([loss_sum])[0] / (len(x_train) * cluster.world_size)
        scored = _evaluate(network, x_val, y_val, autocast, cluster)
        metrics = EpochMetrics(epoch, train_loss, scored.loss, scored.accuracy)
        progress.record(metrics, network)
        # Checkpoint, then the line: an epoch that was printed is saved, whenever the job is stopped.
        if checkpoints is not None:
            rng = cluster.gather(_rng_state(shuffle, device))
            if cluster.is_leader:
                checkpoints.save(epoch, _checkpoint(epoch, shape, network, optimizer, progress, rng))
        if cluster.is_leader:
            report(metrics.line())
    if progress.best is None:  # only a checkpoint of no epoch could leave it unset
        raise RuntimeError("no epoch was trained")
    if cluster.is_leader and progress.best is not progress.history[-1]:
        # SageMaker takes a metric's last value as its final one (a tuning trial's objective): end on the
        # epoch that is exported.
        report(progress.best.line())
    network.to("cpu")
    network.load_state_dict(progress.best_state)
    model.eval()
    return FitResult(
        model=model,
        best=progress.best,
        epochs_run=progress.history[-1].epoch,
        history=tuple(progress.history),
        resumed_from=None if saved is None else int(saved["epoch"]),
    )


def evaluate(model: nn.Module, data: Dataset) -> Evaluation:
    """Loss and accuracy of a whole model (preprocessing included) on encoded rows, on the CPU."""
    x, y = torch.from_numpy(data.x), torch.from_numpy(data.y)
    return _evaluate(model, x, y, contextlib.nullcontext, Cluster())


def _autocast(device: torch.device) -> Callable[[], contextlib.AbstractContextManager[Any]]:
    """bf16 autocast on CUDA; on the CPU, float32 throughout."""
    if device.type == "cuda":
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


def _resident(
    model: TabularClassifier, x: npt.NDArray[np.float32], y: npt.NDArray[np.int64], device: torch.device
) -> tuple[Tensor, Tensor]:
    with torch.no_grad():
        features = model.preprocessing(torch.from_numpy(x))
    return features.to(device), torch.from_numpy(y).to(device)


def _train_epoch(
    trained: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: Tensor,
    y: Tensor,
    batch_size: int,
    shuffle: torch.Generator,
    autocast: Callable[[], contextlib.AbstractContextManager[Any]],
) -> float:
    """One pass in a fresh random order; the sum of the per-row losses."""
    trained.train()
    order = torch.randperm(len(x), generator=shuffle, device=x.device)
    losses = []
    for rows, labels in zip(
        torch.split(x.index_select(0, order), batch_size),
        torch.split(y.index_select(0, order), batch_size),
        strict=True,
    ):
        with autocast():
            loss = functional.cross_entropy(trained(rows), labels)
        optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        optimizer.step()
        losses.append(loss.detach())
    if not losses:
        return 0.0
    # Kept on the device until the epoch ends: reading a loss each batch would wait for the GPU.
    sizes = torch.full((len(losses),), float(batch_size), dtype=torch.float64, device=x.device)
    sizes[-1] = len(x) - batch_size * (len(losses) - 1)
    return float((torch.stack(losses).double() * sizes).sum())


@torch.inference_mode()
def _evaluate(
    network: nn.Module,
    x: Tensor,
    y: Tensor,
    autocast: Callable[[], contextlib.AbstractContextManager[Any]],
    cluster: Cluster,
) -> Evaluation:
    network.eval()
    loss = torch.zeros((), dtype=torch.float64, device=x.device)
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    for rows, labels in zip(torch.split(x, EVALUATION_CHUNK), torch.split(y, EVALUATION_CHUNK), strict=True):
        with autocast():
            logits = network(rows)
        loss += functional.cross_entropy(logits.float(), labels, reduction="sum").double()
        correct += (logits.argmax(dim=1) == labels).sum()
    loss_sum, correct_sum, rows_sum = cluster.sum([float(loss), float(correct), float(len(x))])
    return Evaluation(loss_sum / rows_sum, correct_sum / rows_sum, int(rows_sum))


def _rng_state(shuffle: torch.Generator, device: torch.device) -> dict[str, Tensor]:
    state = {"torch": torch.get_rng_state(), "shuffle": shuffle.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _checkpoint(
    epoch: int,
    shape: dict[str, int],
    network: nn.Module,
    optimizer: torch.optim.Optimizer,
    progress: _Progress,
    rng: list[dict[str, Tensor]],
) -> dict[str, Any]:
    return {
        "format": CHECKPOINT_FORMAT,
        "epoch": epoch,
        "shape": shape,
        "network": network.state_dict(),
        "optimizer": optimizer.state_dict(),
        "best_network": progress.best_state,
        "history": [asdict(metrics) for metrics in progress.history],
        "best_epoch": progress.best.epoch if progress.best else None,
        "stale_epochs": progress.stale_epochs,
        "rng": rng,
    }


def _restore(
    saved: dict[str, Any],
    network: nn.Module,
    optimizer: torch.optim.Optimizer,
    shuffle: torch.Generator,
    rank: int,
    device: torch.device,
) -> _Progress:
    network.load_state_dict(saved["network"])
    optimizer.load_state_dict(saved["optimizer"])
    history = [EpochMetrics(**metrics) for metrics in saved["history"]]
    best = next(metrics for metrics in history if metrics.epoch == saved["best_epoch"])
    rng = saved["rng"]
    if rank < len(rng):  # a rank the checkpoint does not know (more hosts now) keeps its fresh seed
        torch.set_rng_state(rng[rank]["torch"])
        shuffle.set_state(rng[rank]["shuffle"])
        if device.type == "cuda" and "cuda" in rng[rank]:
            torch.cuda.set_rng_state(rng[rank]["cuda"], device)
    return _Progress(history, best, dict(saved["best_network"]), int(saved["stale_epochs"]))
