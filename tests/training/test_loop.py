"""The training loop through its Python API: it learns, stops early on the best epoch, is seeded, resumes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from lambdaops_trainer.checkpoints import CheckpointStore
from lambdaops_trainer.hyperparameters import Hyperparameters
from lambdaops_trainer.loop import EpochMetrics, evaluate, fit

from . import METRIC_REGEXES, one_torch_thread, separable


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


CPU = torch.device("cpu")
HP = Hyperparameters(label="label", epochs=3, batch_size=32, hidden_units=16)


def _quiet(line: str) -> None:
    pass


def test_it_learns_a_separable_problem() -> None:
    result = fit(separable(1500, seed=1), separable(400, seed=2), HP, CPU, report=_quiet)
    assert result.best.validation_accuracy > 0.9
    assert evaluate(result.model, separable(400, seed=3)).accuracy > 0.9


def test_the_metric_line_matches_sagemakers_regexes() -> None:
    lines: list[str] = []
    result = fit(
        separable(200, seed=1), separable(100, seed=2), replace(HP, epochs=2), CPU, report=lines.append
    )
    # One line per epoch; when an earlier epoch was the best, its line again last (SageMaker's final value).
    assert lines[2:] == ([] if result.best.epoch == 2 else [result.best.line()])
    line = EpochMetrics(3, 0.4123449, 0.391234, 0.9312).line()
    assert line == "epoch=3; train:loss=0.412345; validation:loss=0.391234; validation:accuracy=0.931200;"
    for printed, epoch in ((lines[0], "1"), (lines[1], "2"), (line, "3")):
        found = [re.search(regex, printed) for regex in METRIC_REGEXES]
        assert all(found), printed
        assert found[0] is not None and found[0].group(1) == epoch
        assert all(float(match.group(1)) >= 0 for match in found if match)


def test_early_stopping_stops_at_the_plateau_and_keeps_the_best_epoch() -> None:
    # Separable validation reaches accuracy 1.0 early; it cannot improve on that, so the run stops
    # `patience` epochs later, while the loss (not the criterion) keeps falling.
    train, validation = separable(600, seed=1), separable(200, seed=2)
    hp = replace(HP, epochs=40, patience=2, learning_rate=0.01)
    lines: list[str] = []
    result = fit(train, validation, hp, CPU, report=lines.append)
    history = result.history
    best = max(history, key=lambda m: (m.validation_accuracy, -m.epoch))
    assert result.best == best
    assert lines[-1] == best.line()  # what SageMaker reads last, and a tuning trial's objective
    assert result.epochs_run == best.epoch + hp.patience < hp.epochs
    assert [m.epoch for m in history] == list(range(1, result.epochs_run + 1))
    exported = evaluate(result.model, validation)
    assert exported.accuracy == best.validation_accuracy
    assert abs(exported.loss - best.validation_loss) < 1e-6
    assert abs(exported.loss - history[-1].validation_loss) > 1e-4  # the last epoch's weights differ


def test_the_same_seed_gives_the_same_metrics() -> None:
    train, validation = separable(300, seed=1), separable(100, seed=2)
    hp = replace(HP, dropout=0.2)
    first = fit(train, validation, hp, CPU, report=_quiet).history
    again = fit(train, validation, hp, CPU, report=_quiet).history
    other = fit(train, validation, replace(hp, seed=8), CPU, report=_quiet).history
    assert first == again
    assert first != other


def test_a_resumed_run_continues_as_if_it_had_not_stopped(tmp_path: Path) -> None:
    train, validation = separable(300, seed=1), separable(100, seed=2)
    hp = replace(HP, epochs=4, dropout=0.1, patience=10)
    whole = fit(train, validation, hp, CPU, checkpoints=CheckpointStore(tmp_path / "a"), report=_quiet)
    store = CheckpointStore(tmp_path / "b")
    fit(train, validation, replace(hp, epochs=2), CPU, checkpoints=store, report=_quiet)
    lines: list[str] = []
    resumed = fit(train, validation, hp, CPU, checkpoints=store, report=lines.append)
    assert lines[0] == "resumed from checkpoint at epoch 2"
    assert [line.split(";")[0] for line in lines[1:]] == ["epoch=3", "epoch=4"]
    assert resumed.resumed_from == 2
    assert resumed.history == whole.history
    assert sorted(path.name for path in store.directory.iterdir()) == ["epoch-000003.pt", "epoch-000004.pt"]
    x = torch.from_numpy(validation.x)
    with torch.no_grad():
        np.testing.assert_array_equal(resumed.model(x).numpy(), whole.model(x).numpy())


def test_a_finished_run_resumes_to_nothing_more(tmp_path: Path) -> None:
    train, validation = separable(200, seed=1), separable(100, seed=2)
    store = CheckpointStore(tmp_path)
    done = fit(train, validation, HP, CPU, checkpoints=store, report=_quiet)
    lines: list[str] = []
    again = fit(train, validation, HP, CPU, checkpoints=store, report=lines.append)
    assert lines == ["resumed from checkpoint at epoch 3"]
    assert again.best == done.best and again.epochs_run == 3
