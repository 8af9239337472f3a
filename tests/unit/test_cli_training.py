"""The training verbs of the CLI: its plain-text views of runs, its flags, and following a run to its end."""

from __future__ import annotations

import argparse
import io
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from lambdaops_tools import cli, progress, render
from lambdaops_tools.client import LambdaopsClient
from lambdaops_tools.exits import CommandError
from lambdaops_tools.target import Target

BUCKET = "lambdaops-artifacts"
DATASET = f"s3://{BUCKET}/datasets/churn/20261201T210000Z/"


def succeeded_run(**changes: Any) -> dict[str, Any]:
    run: dict[str, Any] = {
        "run_id": "20261201-214939-a1b2",
        "model": "churn",
        "status": "succeeded",
        "step": "Done",
        "trigger": "api",
        "dataset_uri": DATASET,
        "label": "churned",
        "hyperparameters": {"epochs": 5, "learning_rate": 0.1},
        "settings": {"instance_type": "ml.m5.large", "instance_count": 1, "spot": True},
        "execution_arn": "arn:aws:states:eu-west-1:123456789012:execution:train:20261201-214939-a1b2",
        "training_job": "lambdaops-20261201-214939-a1b2",
        "job_metrics": {"validation:accuracy": 0.905, "train:loss": 0.31},
        "metrics": {"accuracy": 0.912, "log_loss": 0.25, "f1_macro": 0.88},
        "production_metrics": {"accuracy": 0.895, "log_loss": 0.3, "f1_macro": 0.86},
        "registered_version": "1.3.0",
        "promoted": True,
        "promotion": {"stage": "staging", "promoted": True, "refusal": None},
        "started_at": "2026-12-01T21:49:39Z",
        "ended_at": "2026-12-01T21:58:02Z",
    }
    return run | changes


def tuning_run(objective_type: str = "Maximize", best_job: str | None = "tune-002") -> dict[str, Any]:
    return succeeded_run(
        run_id="20261201-220000-c3d4",
        hyperparameters={"epochs": 5},
        tuning={
            "strategy": "Bayesian",
            "objective": {"metric": "validation:accuracy", "type": objective_type},
            "max_jobs": 3,
            "max_parallel_jobs": 1,
            "ranges": {"learning_rate": {"type": "continuous", "min": 0.001, "max": 0.5}},
        },
        tuning_job="lambdaops-20261201-220000-c3d4",
        training_job=best_job,
        production_metrics=None,
        trials=[
            {
                "training_job": "tune-001",
                "hyperparameters": {"learning_rate": "0.01"},
                "objective": 0.85,
                "status": "Completed",
            },
            {
                "training_job": "tune-002",
                "hyperparameters": {"learning_rate": "0.2"},
                "objective": 0.93,
                "status": "Completed",
            },
            {
                "training_job": "tune-003",
                "hyperparameters": {"learning_rate": "0.45"},
                "objective": None,
                "status": "Stopped",
            },
        ],
    )


def failed_run() -> dict[str, Any]:
    return succeeded_run(
        status="failed",
        step="Train",
        job_metrics={},
        metrics={},
        production_metrics=None,
        registered_version=None,
        promoted=None,
        promotion=None,
        failure={
            "step": "Train",
            "error": "States.TaskFailed",
            "cause": "job Failed: AlgorithmError: label column missing\nsee the job's logs",
        },
    )


def running_run(step: str = "Train", progress: dict[str, Any] | None = None) -> dict[str, Any]:
    return succeeded_run(
        status="running",
        step=step,
        ended_at=None,
        metrics={},
        production_metrics=None,
        job_metrics={},
        registered_version=None,
        promoted=None,
        promotion=None,
        progress=progress,
    )


TRAINING_PROGRESS = {
    "job_status": "InProgress",
    "secondary_status": "Training",
    "epoch": 3,
    "metrics": {"validation:accuracy": 0.912, "train:loss": 0.31},
}


def section(lines: list[str], title: str) -> list[str]:
    """The lines under a section's title, up to the blank line that ends it."""
    start = next(i for i, line in enumerate(lines) if line.startswith(title)) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i]), len(lines))
    return lines[start:end]


def row(lines: list[str], name: str) -> list[str]:
    """The cells of the row whose first cell is `name`."""
    return next(line.split() for line in lines if line.split()[:1] == [name])


class FakeApi(LambdaopsClient):
    """The API as the CLI reaches it: runs read from a sequence of states, the rest recorded."""

    def __init__(self, states: list[dict[str, Any]] | None = None) -> None:
        super().__init__("http://127.0.0.1:1")
        self.states = list(states or [])
        self.listed: Callable[[], list[dict[str, Any]]] = list
        self.calls: list[tuple[str, str, Any]] = []

    def request(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        self.calls.append((method, path, body))
        if (method, path) == ("POST", "/training"):
            return {"run_id": "20261201-214939-a1b2", "execution_arn": "arn:started"}
        if (method, path) == ("GET", "/training"):
            return {"items": self.listed(), "next_token": None}
        if method == "GET" and path.startswith("/training/"):
            state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
            assert path == f"/training/{state['run_id']}"
            return state
        if method == "GET" and path.startswith("/models/"):
            return {"name": path.rsplit("/", 1)[-1]}
        raise AssertionError(f"unexpected {method} {path}")


class SleeplessApi(FakeApi):
    """For verbs run through `main`, which polls with `time.sleep`: records the sleeps instead."""

    def __init__(self, states: list[dict[str, Any]]) -> None:
        super().__init__(states)
        self.sleeps: list[float] = []

    def wait_for_run(
        self,
        run_id: str,
        poll_s: float = 0.5,
        timeout_s: float | None = None,
        on_update: Callable[[Any], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> Any:
        return super().wait_for_run(run_id, poll_s, timeout_s, on_update, self.sleeps.append, clock)


def context(api: LambdaopsClient, out: io.StringIO, err: io.StringIO, as_json: bool = False) -> cli.Context:
    target = Target(api.api_url, Path("unused.json"), None, BUCKET)
    return cli.Context(api, target, cli.Output(out, err, as_json))


def test_a_succeeded_run_shows_its_header_jobs_and_holdout_metrics_beside_production() -> None:
    lines = render.run_lines(succeeded_run())

    assert lines[0] == "run 20261201-214939-a1b2"
    assert [row(lines, field)[1] for field in ("model", "trigger", "dataset", "status", "step")] == [
        "churn",
        "api",
        DATASET,
        "succeeded",
        "Done",
    ]
    assert row(section(lines, "jobs"), "training")[-1] == "lambdaops-20261201-214939-a1b2"
    assert row(section(lines, "jobs"), "settings")[1:] == ["ml.m5.large", "x", "1,", "spot"]
    assert section(lines, "hyperparameters") == ["  epochs         5", "  learning_rate  0.1"]
    metrics = section(lines, "metrics (holdout: new vs production)")
    assert metrics[0].split() == ["NEW", "PRODUCTION", "DELTA"]
    assert row(metrics, "accuracy") == ["accuracy", "0.912", "0.895", "+0.017"]
    assert row(metrics, "log_loss") == ["log_loss", "0.25", "0.3", "-0.05"]
    assert row(section(lines, "job metrics"), "validation:accuracy") == ["validation:accuracy", "0.905"]
    assert row(section(lines, "outcome"), "registered") == ["registered", "1.3.0"]
    assert row(section(lines, "outcome"), "promotion") == ["promotion", "promoted", "to", "staging"]
    assert "failure" not in lines and not any(line.startswith("trials") for line in lines)


def test_without_production_metrics_the_holdout_metrics_stand_alone() -> None:
    lines = render.run_lines(succeeded_run(production_metrics=None))

    assert row(section(lines, "metrics (holdout)"), "accuracy") == ["accuracy", "0.912"]
    assert not any("PRODUCTION" in line for line in lines)


def test_a_refused_promotion_says_which_gate_refused() -> None:
    refusal = {"code": "PolicyViolation", "message": "accuracy 0.912 is below 0.95", "details": {}}
    run = succeeded_run(promoted=False, promotion={"stage": "staging", "promoted": False, "refusal": refusal})

    promotion = row(section(render.run_lines(run), "outcome"), "promotion")

    assert " ".join(promotion[1:]) == "staging refused (PolicyViolation: accuracy 0.912 is below 0.95)"


def test_a_tuning_runs_trials_table_marks_the_trial_its_version_came_from() -> None:
    lines = render.run_lines(tuning_run())

    trials = section(lines, "trials (Bayesian, Maximize validation:accuracy; * the best)")
    assert trials[0].split() == ["TRAINING", "JOB", "HYPERPARAMETERS", "OBJECTIVE", "STATUS"]
    assert [line.split() for line in trials[1:]] == [
        ["tune-001", "learning_rate=0.01", "0.85", "Completed"],
        ["*", "tune-002", "learning_rate=0.2", "0.93", "Completed"],
        ["tune-003", "learning_rate=0.45", "-", "Stopped"],
    ]
    assert section(lines, "hyperparameters") == ["  epochs  5", "  tuned: learning_rate"]
    assert row(section(lines, "jobs"), "tuning")[-1] == "lambdaops-20261201-220000-c3d4"


@pytest.mark.parametrize(("objective_type", "best"), [("Maximize", "tune-002"), ("Minimize", "tune-001")])
def test_without_the_trained_job_the_best_trial_is_the_best_objective(objective_type: str, best: str) -> None:
    run = tuning_run(objective_type, best_job=None)

    marked = [line.split()[1] for line in render.trials_lines(run) if line.split()[0] == "*"]

    assert marked == [best]


def test_the_trial_the_version_came_from_is_the_best_among_equal_objectives() -> None:
    run = tuning_run(best_job="tune-003")
    run["trials"][2] |= {"objective": 0.93, "status": "Completed"}

    marked = [line.split()[1] for line in render.trials_lines(run) if line.split()[0] == "*"]

    assert marked == ["tune-003"]


def test_a_failed_run_shows_the_step_error_and_whole_cause() -> None:
    lines = render.run_lines(failed_run())

    assert row(lines, "status")[1] == "failed"
    assert section(lines, "failure") == [
        "  step   Train",
        "  error  States.TaskFailed",
        "  cause  job Failed: AlgorithmError: label column missing",
        "         see the job's logs",
    ]
    assert "outcome" not in lines and not any(line.startswith("metrics") for line in lines)


def test_compare_gives_deltas_b_minus_a_and_the_hyperparameters_of_each() -> None:
    a = succeeded_run()
    b = succeeded_run(
        run_id="20261202-090000-ffff",
        hyperparameters={"epochs": 10, "learning_rate": 0.1, "batch_size": 64},
        metrics={"accuracy": 0.93, "log_loss": 0.2},
    )

    comparison = render.compare_runs(a, b)

    assert (comparison["a"]["run_id"], comparison["b"]["run_id"]) == (a["run_id"], b["run_id"])
    assert comparison["hyperparameters"] == {
        "epochs": [5, 10],
        "learning_rate": [0.1, 0.1],
        "batch_size": [None, 64],
    }
    assert comparison["metrics"]["accuracy"] == {"a": 0.912, "b": 0.93, "delta": pytest.approx(0.018)}
    assert comparison["metrics"]["log_loss"]["delta"] == pytest.approx(-0.05)
    assert comparison["metrics"]["f1_macro"] == {"a": 0.88, "b": None, "delta": None}
    json.dumps(comparison)  # what `runs compare --json` prints


def test_compare_lines_mark_only_the_differing_hyperparameters() -> None:
    a = succeeded_run()
    b = succeeded_run(run_id="20261202-090000-ffff", hyperparameters={"epochs": 10, "learning_rate": 0.1})

    lines = render.compare_lines(a, b)

    params = section(lines, "hyperparameters (* differs)")
    assert [line.split() for line in params[1:]] == [
        ["*", "epochs", "5", "10"],
        ["learning_rate", "0.1", "0.1"],
    ]
    assert row(lines, "run")[1:] == [a["run_id"], b["run_id"]]
    assert row(section(lines, "metrics (holdout)"), "accuracy") == ["accuracy", "0.912", "0.912", "+0"]
    assert row(section(lines, "job metrics"), "train:loss") == ["train:loss", "0.31", "0.31", "+0"]


def test_a_tuning_run_compares_with_its_best_trials_tuned_values() -> None:
    comparison = render.compare_runs(succeeded_run(), tuning_run())

    assert comparison["hyperparameters"]["learning_rate"] == [0.1, 0.2]
    assert comparison["hyperparameters"]["epochs"] == [5, 5]


def test_the_progress_line_of_a_training_job() -> None:
    run = running_run("Train", TRAINING_PROGRESS)

    assert render.progress_line(run) == (
        "[Train] InProgress/Training epoch 3  validation:accuracy=0.912 train:loss=0.31"
    )


def test_the_progress_line_of_a_tuning_job_and_of_steps_without_a_job() -> None:
    tuning = running_run("Tune", {"job_status": "InProgress", "trials_completed": 3, "trials_running": 2})

    assert render.progress_line(tuning) == "[Tune] InProgress  trials: 3 completed, 2 running"
    assert render.progress_line(running_run("Evaluate")) == "[Evaluate] running"
    assert render.progress_line(failed_run()) == "[Train] failed"
    assert render.progress_line(succeeded_run(progress=TRAINING_PROGRESS)) == "[Done] succeeded"


def test_the_runs_table_has_a_row_per_run() -> None:
    lines = render.to_text(render.runs_table({"items": [succeeded_run(), failed_run()]})).splitlines()

    assert lines[0].split() == [
        "RUN",
        "ID",
        "MODEL",
        "TRIGGER",
        "STATUS",
        "STEP",
        "VERSION",
        "ACCURACY",
        "STARTED",
    ]
    assert lines[1].split() == [
        "20261201-214939-a1b2",
        "churn",
        "api",
        "succeeded",
        "Done",
        "1.3.0",
        "0.912",
        "2026-12-01T21:49:39Z",
    ]
    assert lines[2].split()[3:7] == ["failed", "Train", "-", "-"]


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("epochs=5", ("epochs", 5)),
        ("learning_rate=0.01", ("learning_rate", 0.01)),
        ("shuffle=true", ("shuffle", True)),
        ("optimizer=adam", ("optimizer", "adam")),
        ('version="5"', ("version", "5")),
        ("expression=a=b", ("expression", "a=b")),
        ("weight=NaN", ("weight", "NaN")),
        ("layers=[64, 32]", ("layers", "[64, 32]")),
        ("empty=", ("empty", "")),
    ],
)
def test_a_hyperparameter_is_json_when_it_parses_as_a_scalar(text: str, parsed: tuple[str, Any]) -> None:
    name, value = cli.parse_hyperparameter(text)

    assert (name, value) == parsed
    assert type(value) is type(parsed[1])


@pytest.mark.parametrize("text", ["epochs", "=5"])
def test_a_hyperparameter_needs_a_name_and_a_value(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        cli.parse_hyperparameter(text)


def test_the_train_flags_become_the_request() -> None:
    hyperparameters = ["--hyperparameter", "epochs=5", "--hyperparameter", "optimizer=adam"]
    settings = ["--no-spot", "--tuning", '{"strategy": "Random"}', "--instance-count", "2"]
    args = cli.build_parser().parse_args(
        ["train", "churn", "--dataset-uri", DATASET, "--label", "churned", *hyperparameters, *settings]
    )

    assert cli._run_fields(args) == {
        "label": "churned",
        "hyperparameters": {"epochs": 5, "optimizer": "adam"},
        "tuning": {"strategy": "Random"},
        "instance_count": 2,
        "spot": False,
    }


def test_runs_lists_and_runs_compare_compares() -> None:
    parser = cli.build_parser()

    listing = parser.parse_args(["runs", "--model", "churn", "--status", "failed"])
    compare = parser.parse_args(["runs", "--json", "compare", "A", "B"])

    assert (listing.model, listing.status) == ("churn", "failed")
    assert (listing.view, compare.view) == (render.runs_table, render.runs_comparison_view)
    assert (compare.call, compare.a, compare.b, compare.json) == (cli._compare_runs, "A", "B", True)
    assert parser.parse_args(["runs", "compare", "A", "B"]).json is False


@pytest.mark.parametrize(("final", "code"), [(succeeded_run(), 0), (failed_run(), 1)])
def test_following_writes_a_line_per_change_then_the_run_and_exits_by_its_outcome(
    final: dict[str, Any], code: int
) -> None:
    states = [
        running_run("Validate"),
        running_run("Train", None),
        running_run("Train", TRAINING_PROGRESS),
        running_run("Train", TRAINING_PROGRESS) | {"job_metrics": {"epoch": 3}},  # changed, not its line
        running_run("Train", TRAINING_PROGRESS | {"epoch": 4}),
        final,
    ]
    out, err, sleeps = io.StringIO(), io.StringIO(), list[float]()

    assert cli.follow(context(FakeApi(states), out, err), final["run_id"], sleep=sleeps.append) == code

    lines = out.getvalue().splitlines()
    assert lines[:4] == [
        "[Validate] running",
        "[Train] running",
        "[Train] InProgress/Training epoch 3  validation:accuracy=0.912 train:loss=0.31",
        "[Train] InProgress/Training epoch 4  validation:accuracy=0.912 train:loss=0.31",
    ]
    assert lines[4] == render.progress_line(final)
    assert lines[5:] == ["", *render.run_lines(final)]
    assert sleeps == [0.5] * 5
    assert err.getvalue() == ""


def test_on_a_terminal_each_step_is_printed_above_a_live_bar_that_goes_when_the_run_ends() -> None:
    states = [
        running_run("Train", TRAINING_PROGRESS | {"epoch": 2}),
        running_run("Train", TRAINING_PROGRESS | {"epoch": 4}),
        running_run("Evaluate"),
        succeeded_run(),
    ]
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=120, color_system=None)

    final = progress.follow_run(FakeApi(states), "20261201-214939-a1b2", terminal, sleep=lambda _: None)

    assert final == succeeded_run()
    assert re.findall(r"step \w+", screen.getvalue()) == ["step Train", "step Evaluate", "step Done"]
    assert screen.getvalue().endswith("\x1b[2K")  # the bar is cleared: what stays is the steps


def test_the_live_bar_counts_epochs_or_trials() -> None:
    training = running_run("Train", TRAINING_PROGRESS)
    tuning = tuning_run() | {"status": "running", "progress": {"trials_completed": 2, "trials_running": 1}}

    assert progress._bar(training) == (5, 3)  # hyperparameters' epochs, the progress' epoch
    assert progress._bar(tuning) == (3, 2)  # tuning's max_jobs, trials completed
    assert progress._bar(running_run("Validate")) == (None, 0)


def test_follow_with_json_writes_progress_to_stderr_and_the_run_to_stdout() -> None:
    out, err = io.StringIO(), io.StringIO()
    api = FakeApi([running_run("Evaluate"), failed_run()])

    code = cli.follow(context(api, out, err, as_json=True), failed_run()["run_id"], sleep=lambda _: None)

    assert code == 1
    assert json.loads(out.getvalue()) == failed_run()
    assert err.getvalue().splitlines() == ["[Evaluate] running", "[Train] failed"]


def test_waiting_reports_each_change_of_the_run_once() -> None:
    evaluate, register, done = running_run("Evaluate"), running_run("Register"), succeeded_run()
    updates: list[dict[str, Any]] = []
    sleeps: list[float] = []

    final = FakeApi([evaluate, evaluate, register, register, done]).wait_for_run(
        done["run_id"], poll_s=2, on_update=updates.append, sleep=sleeps.append
    )

    assert final == done
    assert updates == [evaluate, register, done]
    assert sleeps == [2, 2, 2, 2]


def test_a_run_that_outlasts_the_wait_says_so() -> None:
    ticks = iter(range(100))
    sleeps: list[float] = []

    with pytest.raises(TimeoutError, match="still running after 3 s"):
        FakeApi([running_run("Evaluate")]).wait_for_run(
            "20261201-214939-a1b2",
            poll_s=1,
            timeout_s=3,
            sleep=sleeps.append,
            clock=lambda: float(next(ticks)),
        )

    assert sleeps == [1, 1]


def test_train_with_wait_prints_the_started_run_then_follows_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = SleeplessApi([running_run("Train", TRAINING_PROGRESS), failed_run()])
    monkeypatch.setattr(cli, "LambdaopsClient", lambda url: api)

    train = ["train", "churn", "--dataset-uri", DATASET, "--hyperparameter", "epochs=7", "--wait"]
    code = cli.main(["--api-url", api.api_url, *train])

    assert code == 1
    assert api.calls[0] == (
        "POST",
        "/training",
        {"model": "churn", "dataset_uri": DATASET, "hyperparameters": {"epochs": 7}},
    )
    output = capsys.readouterr().out.splitlines()
    assert output[:2] == ["run_id         20261201-214939-a1b2", "execution_arn  arn:started"]
    rest = "\n".join(output[2:])
    assert rest.splitlines()[:2] == [
        render.progress_line(running_run("Train", TRAINING_PROGRESS)),
        "[Train] failed",
    ]
    assert rest.splitlines()[2:] == ["", *render.run_lines(failed_run())]
    assert api.sleeps == [0.5]


class FakeS3:
    def __init__(self, on_put: Callable[[str], None]) -> None:
        self.keys: list[str] = []
        self.bodies: dict[str, bytes] = {}
        self.on_put = on_put

    def upload_file(self, filename: str, bucket: str, key: str, Callback: Any = None) -> None:  # noqa: N803
        assert bucket == BUCKET
        self.keys.append(key)
        self.bodies[key] = Path(filename).read_bytes()

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> None:  # noqa: N803  # boto3's names
        assert Bucket == BUCKET
        self.keys.append(Key)
        self.bodies[Key] = Body
        self.on_put(Key)


def dataset_folder(tmp_path: Path, manifest: dict[str, Any] | None) -> Path:
    for name in ("train.csv", "validation.csv", "holdout.csv"):
        (tmp_path / name).write_text("tenure,churned\n1,0\n")
    if manifest is not None:
        (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def test_a_dataset_with_a_manifest_starts_its_run_by_the_upload_with_the_flags_in_the_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = dataset_folder(tmp_path, {"label": "churned", "hyperparameters": {"epochs": 2}})
    prefix = "datasets/churn/v1/"
    uploaded = dict(
        succeeded_run(),
        run_id="20261201-220000-0001",
        trigger="upload",
        dataset_uri=f"s3://{BUCKET}/{prefix}",
    )
    older = dict(uploaded, run_id="20261130-100000-0000")
    # After the manifest's upload: not delivered yet, then recorded before its execution starts, then started.
    pages = iter([[older], [dict(uploaded, execution_arn=None, status="running"), older], [uploaded, older]])
    api = FakeApi()
    api.listed = lambda: [older]
    s3 = FakeS3(lambda key: setattr(api, "listed", lambda: next(pages)))
    monkeypatch.setattr(Target, "s3", lambda self: s3)
    args = cli.build_parser().parse_args(
        ["train", "churn", "--dataset", str(folder), "--dataset-id", "v1", "--hyperparameter", "epochs=9"]
    )

    sleeps: list[float] = []

    started = cli._upload_dataset(context(api, io.StringIO(), io.StringIO()), args, sleep=sleeps.append)

    assert started == {"run_id": uploaded["run_id"], "execution_arn": uploaded["execution_arn"]}
    assert sleeps == [1.0, 1.0]
    assert s3.keys == [
        prefix + name for name in ("train.csv", "validation.csv", "holdout.csv", "manifest.json")
    ]
    assert json.loads(s3.bodies[prefix + "manifest.json"]) == {
        "label": "churned",
        "hyperparameters": {"epochs": 9},
    }
    assert ("POST", "/training") not in [(method, path) for method, path, _ in api.calls]


def test_a_dataset_without_a_manifest_gets_one_written_from_the_flags_which_starts_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = dataset_folder(tmp_path, None)
    (folder / "holdout.csv").unlink()
    prefix = "datasets/churn/v2/"
    uploaded = dict(succeeded_run(), trigger="upload", dataset_uri=f"s3://{BUCKET}/{prefix}")
    api = FakeApi()
    api.listed = lambda: []
    s3 = FakeS3(lambda key: setattr(api, "listed", lambda: [uploaded]))
    monkeypatch.setattr(Target, "s3", lambda self: s3)
    args = cli.build_parser().parse_args(
        ["train", "churn", "--dataset", str(folder), "--dataset-id", "v2", "--label", "churned"]
    )

    started = cli._upload_dataset(context(api, io.StringIO(), io.StringIO()), args, sleep=lambda _: None)

    assert started["run_id"] == uploaded["run_id"]
    assert s3.keys == [prefix + name for name in ("train.csv", "validation.csv", "manifest.json")]
    assert json.loads(s3.bodies[prefix + "manifest.json"]) == {"label": "churned"}
    assert ("POST", "/training") not in [(method, path) for method, path, _ in api.calls]


def test_a_dataset_without_a_manifest_or_a_label_is_refused_before_any_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = FakeS3(lambda key: None)
    monkeypatch.setattr(Target, "s3", lambda self: s3)
    args = cli.build_parser().parse_args(["train", "churn", "--dataset", str(dataset_folder(tmp_path, None))])

    with pytest.raises(CommandError, match="pass --label") as refused:
        cli._upload_dataset(context(FakeApi(), io.StringIO(), io.StringIO()), args)

    assert refused.value.exit_code == 2

    assert s3.keys == []
