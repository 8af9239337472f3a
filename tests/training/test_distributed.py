"""Two hosts as SageMaker starts them (here two local processes on Gloo): one model, from rank 0."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

from lambdaops_trainer.channels import read_channel
from lambdaops_trainer.data import encode, infer_schema

from . import TRAIN_PY, job_folder, sm_environment


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_two_hosts_train_one_model_written_by_rank_0(tmp_path: Path) -> None:
    root = job_folder(tmp_path / "data", train=2000, validation=400)
    port = str(_free_port())
    processes = []
    for host in ("algo-1", "algo-2"):
        env = sm_environment(root) | {
            "SM_HOSTS": '["algo-1", "algo-2"]',
            "SM_CURRENT_HOST": host,
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
            # Each host has its own model, output and checkpoint folders, as on SageMaker.
            "SM_MODEL_DIR": str(tmp_path / host / "model"),
            "SM_OUTPUT_DIR": str(tmp_path / host / "output"),
            "SM_OUTPUT_DATA_DIR": str(tmp_path / host / "output" / "data"),
            "SM_CHECKPOINT_DIR": str(tmp_path / host / "checkpoints"),
        }
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(TRAIN_PY),
                    "--label",
                    "churned",
                    "--epochs",
                    "3",
                    "--learning_rate",
                    "0.01",
                ],
                cwd=TRAIN_PY.parent,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        outputs = [process.communicate(timeout=120) for process in processes]
    finally:
        for process in processes:
            process.kill()
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    leader, follower = (out for out, _ in outputs)
    assert [line.split(";")[0] for line in leader.splitlines()] == ["epoch=1", "epoch=2", "epoch=3"]
    assert follower == ""
    assert not (tmp_path / "algo-2" / "model").exists()
    assert not (tmp_path / "algo-2" / "checkpoints").exists()
    assert sorted(p.name for p in (tmp_path / "algo-1" / "checkpoints").iterdir()) == [
        "epoch-000002.pt",
        "epoch-000003.pt",
    ]

    model = tmp_path / "algo-1" / "model"
    metrics = json.loads((model / "metrics.json").read_text())
    table = read_channel(root / "train", "train", "churned")
    validation_table = read_channel(root / "validation", "validation", "churned", ["age", "spend"])
    validation = encode(validation_table, infer_schema(table, "churned"))
    session = ort.InferenceSession(str(model / "model.onnx"), providers=["CPUExecutionProvider"])
    labels, _ = session.run(None, {"input": validation.x})
    accuracy = float(np.mean(labels == validation.y))
    assert accuracy > 0.85
    # Rank 0 reports the accuracy over both ranks' validation shards: the whole validation set.
    assert abs(accuracy - metrics["validation:accuracy"]) < 1e-9
