"""One SageMaker training job, start to finish: what `train.py` runs.

Any failure ends the job with exit code 1, its reason in `$SM_OUTPUT_DIR/failure` (SageMaker's
FailureReason) and its traceback on stderr.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import asdict

from lambdaops_trainer.channels import read_channel
from lambdaops_trainer.data import encode, infer_schema
from lambdaops_trainer.environment import TrainingEnvironment, output_dir
from lambdaops_trainer.failure import failure_reason, write_failure
from lambdaops_trainer.hyperparameters import parse_hyperparameters


def main(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    """Run the job; 0 when the model folder is written, 1 (and the failure file) otherwise."""
    try:
        run(argv, environ)
    except Exception as error:
        traceback.print_exc()
        reason = failure_reason(error)
        print(f"training failed: {reason}", file=sys.stderr, flush=True)
        write_failure(output_dir(environ), reason)
        return 1
    return 0


def run(argv: Sequence[str], environ: Mapping[str, str]) -> None:
    env = TrainingEnvironment.from_environ(environ)
    hp = parse_hyperparameters(argv, env.hyperparameters)
    train_table = read_channel(env.train_dir, "train", hp.label)
    schema = infer_schema(train_table, hp.label)
    numeric = [feature.name for feature in schema.features if feature.type != "category"]
    train = encode(train_table, schema, warn=_stderr)
    del train_table
    validation = encode(read_channel(env.validation_dir, "validation", hp.label, numeric), schema, _stderr)
    holdout = None
    if env.holdout_dir is not None:
        holdout = encode(read_channel(env.holdout_dir, "holdout", hp.label, numeric), schema, _stderr)
    # torch takes seconds to import: a job with bad data or hyperparameters fails before that.
    from lambdaops_trainer.checkpoints import CheckpointStore
    from lambdaops_trainer.cluster import join_cluster, leave_cluster
    from lambdaops_trainer.export import write_model_dir
    from lambdaops_trainer.loop import default_device, evaluate, fit

    device = default_device(env.num_gpus)
    cluster = join_cluster(env, device)
    try:
        result = fit(
            train,
            validation,
            hp,
            device,
            checkpoints=CheckpointStore(env.checkpoint_dir),
            cluster=cluster,
            report=_stdout,
        )
    finally:
        leave_cluster(cluster)
    if not cluster.is_leader:
        return
    scored = evaluate(result.model, holdout) if holdout is not None else None
    write_model_dir(env.model_dir, result, schema, hp, scored)
    env.output_data_dir.mkdir(parents=True, exist_ok=True)
    history = [asdict(metrics) for metrics in result.history]
    (env.output_data_dir / "history.json").write_text(json.dumps(history, indent=2) + "\n", encoding="utf-8")


def _stdout(line: str) -> None:
    print(line, flush=True)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
