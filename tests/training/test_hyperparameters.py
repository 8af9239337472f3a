"""Hyperparameters as SageMaker passes them: arguments over SM_HPS, JSON or plain, unknown names ignored."""

from __future__ import annotations

import pytest

from lambdaops_trainer.environment import TrainingEnvironment
from lambdaops_trainer.failure import InvalidEnvironment, InvalidHyperparameter
from lambdaops_trainer.hyperparameters import Hyperparameters, parse_hyperparameters


def test_defaults_fill_in_what_is_not_given() -> None:
    assert parse_hyperparameters(["--label", "churned"], {}) == Hyperparameters(label="churned")
    assert Hyperparameters(label="x").as_json() == {
        "label": "x",
        "epochs": 20,
        "batch_size": 1024,
        "learning_rate": 1e-3,
        "hidden_units": 64,
        "hidden_layers": 2,
        "patience": 3,
        "seed": 7,
        "weight_decay": 0.0,
        "dropout": 0.0,
    }


def test_arguments_win_over_sm_hps_and_json_values_are_decoded() -> None:
    hp = parse_hyperparameters(
        ["--epochs", "10", "--label", '"churned"', "--learning_rate=0.01", "--dropout", '"0.25"'],
        {"epochs": "3", "label": "wrong", "hidden_units": 32, "batch_size": '"256"', "seed": "11"},
    )
    assert hp == Hyperparameters(
        label="churned", epochs=10, learning_rate=0.01, dropout=0.25, hidden_units=32, batch_size=256, seed=11
    )


def test_names_sagemaker_and_tuning_add_are_ignored() -> None:
    hp = parse_hyperparameters(
        [
            "--_tuning_objective_metric",
            "validation:accuracy",
            "--sagemaker_program",
            "train.py",
            "--label",
            "y",
            "--unknown-flag",
        ],
        {"sagemaker_submit_directory": '"s3://b/source.tar.gz"', "sagemaker_region": '"us-east-1"'},
    )
    assert hp == Hyperparameters(label="y")


def test_a_label_that_looks_like_a_number_stays_its_text() -> None:
    assert parse_hyperparameters(["--label", "1"], {}).label == "1"
    assert parse_hyperparameters([], {"label": 1}).label == "1"
    assert parse_hyperparameters(["--epochs", "4.0", "--label", "y"], {}).epochs == 4


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "hyperparameter 'label' is required"),
        (["--label", "y", "--epochs", "0"], "hyperparameter 'epochs' must be at least 1; got 0"),
        (
            ["--label", "y", "--learning_rate", "fast"],
            "hyperparameter 'learning_rate' must be a number; got 'fast'",
        ),
        (["--label", "y", "--learning_rate", "0"], "hyperparameter 'learning_rate' must be positive"),
        (["--label", "y", "--epochs", "2.5"], "hyperparameter 'epochs' must be a whole number"),
        (["--label", "y", "--batch_size", "true"], "hyperparameter 'batch_size' must be a number"),
        (["--label", "y", "--dropout", "1"], "hyperparameter 'dropout' must be in [0, 1)"),
        (["--label", "y", "--learning_rate", "nan"], "must be a finite number"),
        (["--label", "y", "--epochs"], "hyperparameter 'epochs' was given no value"),
    ],
)
def test_bad_values_are_refused_with_a_readable_reason(argv: list[str], message: str) -> None:
    with pytest.raises(InvalidHyperparameter) as refused:
        parse_hyperparameters(argv, {})
    assert message in str(refused.value)


def test_environment_defaults_and_distributed_settings() -> None:
    env = TrainingEnvironment.from_environ({"SM_CHANNEL_TRAIN": "/t", "SM_CHANNEL_VALIDATION": "/v"})
    assert (str(env.model_dir), str(env.output_dir), str(env.checkpoint_dir)) == (
        "/opt/ml/model",
        "/opt/ml/output",
        "/opt/ml/checkpoints",
    )
    assert (env.hosts, env.rank, env.world_size, env.holdout_dir, env.num_gpus) == (
        ("algo-1",),
        0,
        1,
        None,
        None,
    )
    two = TrainingEnvironment.from_environ(
        {
            "SM_CHANNEL_TRAIN": "/t",
            "SM_CHANNEL_VALIDATION": "/v",
            "SM_HOSTS": '["algo-1", "algo-2"]',
            "SM_CURRENT_HOST": "algo-2",
            "SM_HPS": '{"epochs": 3}',
        }
    )
    assert (two.rank, two.world_size, two.master_addr, two.master_port) == (1, 2, "algo-1", 29500)
    assert two.hyperparameters == {"epochs": 3}
    with pytest.raises(InvalidEnvironment, match="SM_CHANNEL_VALIDATION is not set"):
        TrainingEnvironment.from_environ({"SM_CHANNEL_TRAIN": "/t"})
    with pytest.raises(InvalidEnvironment, match="SM_CURRENT_HOST 'algo-3' is not in SM_HOSTS"):
        TrainingEnvironment.from_environ(
            {"SM_CHANNEL_TRAIN": "/t", "SM_CHANNEL_VALIDATION": "/v", "SM_CURRENT_HOST": "algo-3"}
        )
