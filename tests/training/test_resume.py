"""Managed spot training: a job killed mid-run resumes from its last checkpoint when it is started again."""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import TRAIN_PY, job_folder, run_train_py, sm_environment

EPOCHS = 6
ARGS = ["--label", "churned", "--epochs", str(EPOCHS), "--patience", str(EPOCHS), "--batch_size", "8"]


def _lines(process: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """The process's stdout, line by line, as it prints them (None once it closes)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _newest_checkpoint(folder: Path) -> int:
    epochs = [int(m.group(1)) for p in folder.iterdir() if (m := re.fullmatch(r"epoch-(\d+)\.pt", p.name))]
    return max(epochs)


def test_a_killed_job_resumes_after_its_last_checkpoint(tmp_path: Path) -> None:
    root = job_folder(tmp_path, train=3000, validation=300)
    env = sm_environment(root)
    process = subprocess.Popen(
        [sys.executable, str(TRAIN_PY), *ARGS],
        cwd=TRAIN_PY.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines, deadline = _lines(process), time.monotonic() + 120
        # The metric line is printed after its epoch's checkpoint is in place: once epoch 2's line is
        # out, the job can be killed with that checkpoint saved.
        while (line := lines.get(timeout=max(0.0, deadline - time.monotonic()))) is not None:
            if line.startswith("epoch=2;"):
                break
        assert line is not None, "the job ended before its second epoch"
        process.kill()
    finally:
        process.kill()
        process.wait(timeout=30)
    assert process.returncode != 0
    assert not (root / "model" / "model.onnx").exists()
    saved = _newest_checkpoint(root / "checkpoints")
    assert 2 <= saved < EPOCHS

    done = run_train_py(ARGS, env)
    assert done.returncode == 0, done.stderr
    printed = done.stdout.splitlines()
    assert printed[0] == f"resumed from checkpoint at epoch {saved}"
    epochs = [line.split(";")[0] for line in printed[1:]]
    metrics = json.loads((root / "model" / "metrics.json").read_text())
    # Each epoch after the checkpoint, then (when an earlier one was best) the exported epoch's line again.
    exported = [] if metrics["best_epoch"] == EPOCHS else [f"epoch={metrics['best_epoch']}"]
    assert epochs == [f"epoch={n}" for n in range(saved + 1, EPOCHS + 1)] + exported
    assert metrics["epochs_run"] == EPOCHS
    history = json.loads((root / "output" / "data" / "history.json").read_text())
    assert [entry["epoch"] for entry in history] == list(range(1, EPOCHS + 1))
