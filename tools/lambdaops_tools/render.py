"""Plain-text views of training runs for the CLI: pure functions from the API's JSON to lines."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Run = Mapping[str, Any]
"""A run as `GET /training/{run_id}` returns it (see `lambdaops.training.schemas.RunRecord`)."""

MISSING = "-"


def format_value(value: Any) -> str:
    """Numbers to 4 significant digits, booleans and None as JSON writes them, the rest as text."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_delta(delta: float | None) -> str:
    return MISSING if delta is None else f"{delta:+.4g}"


def parse_value(text: str) -> str | int | float | bool:
    """A hyperparameter's value: a JSON number, boolean or string when the text is one, else the text."""

    def refuse(constant: str) -> Any:
        raise ValueError(constant)  # NaN and Infinity are not hyperparameters the API accepts

    try:
        value = json.loads(text, parse_constant=refuse)
    except ValueError:
        return text
    return value if isinstance(value, str | int | float | bool) else text


def table(rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    """Rows as left-aligned columns two spaces apart."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(max(map(len, rows)))]
    return [
        (indent + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row))).rstrip() for row in rows
    ]


def progress_line(run: Run) -> str:
    """One line for where a run is: `[Train] InProgress/Training epoch 3  validation:accuracy=0.912`."""
    parts = [f"[{run.get('step') or '?'}]"]
    progress = run.get("progress") if run.get("status") == "running" else None
    if not progress:
        parts.append(str(run.get("status")))
        return " ".join(parts)
    status = progress.get("job_status") or "running"
    if progress.get("secondary_status"):
        status += f"/{progress['secondary_status']}"
    parts.append(status)
    if progress.get("epoch") is not None:
        parts.append(f"epoch {progress['epoch']}")
    line = " ".join(parts)
    if progress.get("trials_completed") is not None or progress.get("trials_running") is not None:
        completed, running = progress.get("trials_completed") or 0, progress.get("trials_running") or 0
        line += f"  trials: {completed} completed, {running} running"
    metrics = progress.get("metrics") or {}
    if metrics:
        line += "  " + " ".join(f"{name}={format_value(value)}" for name, value in metrics.items())
    return line


def _names(*mappings: Mapping[str, Any] | None) -> list[str]:
    """The keys of all mappings, in first-seen order."""
    return list(dict.fromkeys(name for mapping in mappings for name in (mapping or {})))


def _delta(a: Any, b: Any) -> float | None:
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b))
    return float(b - a) if numbers and math.isfinite(b - a) else None


def _section(title: str, body: list[str]) -> list[str]:
    return ["", title, *body] if body else []


def _fields(pairs: Iterable[tuple[str, Any]]) -> list[str]:
    return table([[name, format_value(value)] for name, value in pairs if value is not None], "  ")


def _settings(settings: Mapping[str, Any] | None) -> str | None:
    settings = settings or {}
    parts = []
    if settings.get("instance_type"):
        parts.append(f"{settings['instance_type']} x {settings.get('instance_count') or 1}")
    elif settings.get("instance_count"):
        parts.append(f"{settings['instance_count']} instance(s)")
    if settings.get("spot") is not None:
        parts.append("spot" if settings["spot"] else "on-demand")
    if settings.get("max_runtime_seconds"):
        parts.append(f"max {settings['max_runtime_seconds']} s")
    return ", ".join(parts) or None


def best_trial(run: Run) -> str | None:
    """The best trial's training job: the one the run trained its version from, else the best objective."""
    trials = run.get("trials") or []
    if run.get("training_job") in {trial["training_job"] for trial in trials}:
        return str(run["training_job"])
    scored = [trial for trial in trials if trial.get("objective") is not None]
    if not scored:
        return None
    objective = (run.get("tuning") or {}).get("objective") or {}
    pick = min if objective.get("type") == "Minimize" else max
    return str(pick(scored, key=lambda trial: trial["objective"])["training_job"])


def trials_lines(run: Run) -> list[str]:
    """The trials table of a tuning run, the best marked with `*`."""
    trials = run.get("trials") or []
    if not trials:
        return []
    best = best_trial(run)
    rows = [["", "TRAINING JOB", "HYPERPARAMETERS", "OBJECTIVE", "STATUS"]]
    for trial in trials:
        tuned = " ".join(f"{k}={v}" for k, v in (trial.get("hyperparameters") or {}).items())
        rows.append(
            [
                "*" if trial["training_job"] == best else "",
                trial["training_job"],
                tuned or MISSING,
                format_value(trial.get("objective")),
                str(trial.get("status") or MISSING),
            ]
        )
    return table(rows, "  ")


def _tuning_title(run: Run) -> str:
    tuning = run.get("tuning") or {}
    objective = tuning.get("objective") or {}
    about = [tuning.get("strategy"), " ".join(filter(None, [objective.get("type"), objective.get("metric")]))]
    described = ", ".join(part for part in about if part)
    return f"trials ({described}; * the best)" if described else "trials (* the best)"


def _metrics_lines(run: Run) -> list[str]:
    holdout = run.get("metrics") or {}
    production = run.get("production_metrics")
    if production is None:
        return table([[name, format_value(value)] for name, value in holdout.items()], "  ")
    rows = [["", "NEW", "PRODUCTION", "DELTA"]]
    for name in _names(holdout, production):
        new, old = holdout.get(name), production.get(name)
        rows.append([name, format_value(new), format_value(old), format_delta(_delta(old, new))])
    return table(rows, "  ")


def _promotion(run: Run) -> str | None:
    promotion = run.get("promotion")
    if not promotion:
        return None if run.get("promoted") is None else ("promoted" if run["promoted"] else "not promoted")
    stage = promotion.get("stage") or "staging"
    if promotion.get("promoted"):
        return f"promoted to {stage}"
    refusal = promotion.get("refusal") or {}
    why = ": ".join(str(part) for part in (refusal.get("code"), refusal.get("message")) if part)
    return f"{stage} refused" + (f" ({why})" if why else "")


def _failure_lines(failure: Mapping[str, Any]) -> list[str]:
    lines = table([[name, str(failure.get(name) or MISSING)] for name in ("step", "error")], "  ")
    cause = str(failure.get("cause") or MISSING).splitlines() or [MISSING]
    lines.append(f"  cause  {cause[0]}")
    lines.extend(f"         {line}" for line in cause[1:])
    return lines


def run_lines(run: Run) -> list[str]:
    """The whole run as a person reads it: what, where, how it trained, how it scored, what became of it."""
    trigger = run.get("trigger")
    if run.get("reason"):
        trigger = f"{trigger} ({run['reason']})"
    lines = [f"run {run.get('run_id')}"]
    lines += _fields(
        [
            ("model", run.get("model")),
            ("trigger", trigger),
            ("dataset", run.get("dataset_uri")),
            ("label", run.get("label")),
            ("status", run.get("status")),
            ("step", run.get("step")),
            ("started", run.get("started_at")),
            ("ended", run.get("ended_at")),
        ]
    )
    if run.get("status") == "running":
        lines.append(f"  now      {progress_line(run)}")
    lines += _section(
        "jobs",
        _fields(
            [
                ("tuning job", run.get("tuning_job")),
                ("training job", run.get("training_job")),
                ("execution", run.get("execution_arn")),
                ("settings", _settings(run.get("settings"))),
            ]
        ),
    )
    hyperparameters = _fields((run.get("hyperparameters") or {}).items())
    if run.get("tuning"):
        tuned = ", ".join(run["tuning"].get("ranges") or {})
        hyperparameters.append(f"  tuned: {tuned}" if tuned else "  tuned")
    lines += _section("hyperparameters", hyperparameters)
    title = (
        "metrics (holdout)"
        if run.get("production_metrics") is None
        else "metrics (holdout: new vs production)"
    )
    lines += _section(title, _metrics_lines(run))
    lines += _section("job metrics", _fields((run.get("job_metrics") or {}).items()))
    lines += _section(_tuning_title(run), trials_lines(run))
    lines += _section(
        "outcome",
        _fields([("registered", run.get("registered_version")), ("promotion", _promotion(run))]),
    )
    if run.get("failure"):
        lines += _section("failure", _failure_lines(run["failure"]))
    return lines


def runs_table(items: Sequence[Run]) -> list[str]:
    """A page of runs, one row each."""
    rows = [["RUN ID", "MODEL", "TRIGGER", "STATUS", "STEP", "VERSION", "ACCURACY", "STARTED"]]
    for run in items:
        rows.append(
            [
                str(run.get("run_id")),
                str(run.get("model")),
                str(run.get("trigger")),
                str(run.get("status")),
                str(run.get("step")),
                format_value(run.get("registered_version")),
                format_value((run.get("metrics") or {}).get("accuracy")),
                format_value(run.get("started_at")),
            ]
        )
    return table(rows)


def effective_hyperparameters(run: Run) -> dict[str, Any]:
    """What the registered version trained with: the run's hyperparameters and its best trial's tuned ones."""
    values = dict(run.get("hyperparameters") or {})
    best = best_trial(run)
    for trial in run.get("trials") or []:
        if trial["training_job"] == best:
            values.update({k: parse_value(str(v)) for k, v in (trial.get("hyperparameters") or {}).items()})
    return values


def compare_runs(a: Run, b: Run) -> dict[str, Any]:
    """`{a, b, hyperparameters: {name: [a, b]}, metrics: {name: {a, b, delta}}}` with delta b - a."""
    params_a, params_b = effective_hyperparameters(a), effective_hyperparameters(b)
    metrics_a, metrics_b = a.get("metrics") or {}, b.get("metrics") or {}
    return {
        "a": dict(a),
        "b": dict(b),
        "hyperparameters": {
            name: [params_a.get(name), params_b.get(name)] for name in _names(params_a, params_b)
        },
        "metrics": {
            name: {
                "a": metrics_a.get(name),
                "b": metrics_b.get(name),
                "delta": _delta(metrics_a.get(name), metrics_b.get(name)),
            }
            for name in _names(metrics_a, metrics_b)
        },
    }


def compare_lines(a: Run, b: Run) -> list[str]:
    """Two runs side by side; `*` marks a hyperparameter that differs, deltas are b - a."""
    comparison = compare_runs(a, b)
    rows = [
        ["", "A", "B"],
        ["run", str(a.get("run_id")), str(b.get("run_id"))],
        *(
            [label, format_value(a.get(field)), format_value(b.get(field))]
            for label, field in (
                ("model", "model"),
                ("dataset", "dataset_uri"),
                ("status", "status"),
                ("registered", "registered_version"),
            )
        ),
    ]
    lines = table(rows)
    params = [["", "", "A", "B"]] + [
        ["*" if value_a != value_b else "", name, format_value(value_a), format_value(value_b)]
        for name, (value_a, value_b) in comparison["hyperparameters"].items()
    ]
    lines += _section("hyperparameters (* differs)", table(params, "  ") if len(params) > 1 else [])
    metrics = [["", "A", "B", "B - A"]] + [
        [name, format_value(m["a"]), format_value(m["b"]), format_delta(m["delta"])]
        for name, m in comparison["metrics"].items()
    ]
    lines += _section("metrics (holdout)", table(metrics, "  ") if len(metrics) > 1 else [])
    job_a, job_b = a.get("job_metrics") or {}, b.get("job_metrics") or {}
    job = [["", "A", "B", "B - A"]] + [
        [
            name,
            format_value(job_a.get(name)),
            format_value(job_b.get(name)),
            format_delta(_delta(job_a.get(name), job_b.get(name))),
        ]
        for name in _names(job_a, job_b)
    ]
    lines += _section("job metrics", table(job, "  ") if len(job) > 1 else [])
    return lines
