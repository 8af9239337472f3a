"""The CLI's views: pure functions from the API's JSON to rich tables, or to plain lines (a run's
detail, its progress line, the trials), which the demo prints too."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Column, Table
from rich.text import Text

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


Page = Mapping[str, Any]
"""A listing's reply, `{items, next_token}`."""


def to_text(view: RenderableType, width: int = 10_000) -> str:
    """A view as plain text, as a pipe gets it: no colours, no wrapping, no padding at line ends."""
    text = io.StringIO()
    Console(file=text, width=width, color_system=None).print(view)
    return "".join(line.rstrip() + "\n" for line in text.getvalue().splitlines())


def cell(value: Any) -> str:
    """A value in one cell: mappings of scalars as `k=v` (without the empty ones), of objects as their
    keys, lists joined."""
    if isinstance(value, Mapping):
        if all(not isinstance(item, Mapping | list) for item in value.values()):
            pairs = [f"{key}={format_value(item)}" for key, item in value.items() if item is not None]
            return ", ".join(pairs) or MISSING
        if all(isinstance(item, Mapping) for item in value.values()):
            return ", ".join(value)
        return json.dumps(value, separators=(", ", ": "))
    if isinstance(value, list):
        if all(not isinstance(item, Mapping | list) for item in value):
            return ", ".join(map(format_value, value)) or MISSING
        return json.dumps(value, separators=(", ", ": "))
    return format_value(value)


def _table(*columns: str, caption: str | None = None) -> Table:
    """Columns wrap on a narrow terminal, ids and ARNs included (fold), rather than lose their ends."""
    return Table(
        *(Column(header, overflow="fold") for header in columns),
        box=None,
        pad_edge=False,
        header_style="bold",
        caption=caption,
        caption_justify="left",
    )


def _add(table: Table, *cells: Any) -> None:
    """Cells as text, never as rich markup (a tag or a reason may hold `[...]`)."""
    table.add_row(*(Text(cell(value)) for value in cells))


def _listing(page: Page, what: str, table: Table) -> RenderableType:
    if not page.get("items"):
        return Text(f"no {what}")
    if page.get("next_token"):
        table.caption = f"more: --next-token {page['next_token']}"
    return table


def _actor(arn: Any) -> str:
    """An IAM ARN's last part (`user/reviewer` is `reviewer`), which is what a person reads."""
    return str(arn).rsplit("/", 1)[-1] if arn else MISSING


def details(record: Mapping[str, Any]) -> RenderableType:
    """Any record as `field  value` rows, leaving out what is empty (a lineage of nulls included)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for name, value in record.items():
        shown = _schema(value) if name == "input_schema" else cell(value)
        if value not in ({}, []) and shown != MISSING:
            grid.add_row(Text(name, style="bold"), Text(shown))
    return grid


def _schema(schema: Mapping[str, Any]) -> str:
    return ", ".join(f"{f['name']} ({f['type']})" for f in schema.get("features") or [])


def models_table(page: Page) -> RenderableType:
    table = _table("NAME", "PRODUCTION", "STAGING", "LATEST", "TAGS", "DESCRIPTION")
    for model in page.get("items") or []:
        _add(
            table,
            model["name"],
            model.get("production_version"),
            model.get("staging_versions"),
            model.get("latest_version"),
            model.get("tags"),
            model.get("description") or None,
        )
    return _listing(page, "models", table)


def versions_table(page: Page, metric_columns: int = 3) -> RenderableType:
    """A column for each of the first few metrics the page's versions have."""
    items = page.get("items") or []
    metrics = _names(*(version.get("metrics") for version in items))[:metric_columns]
    table = _table("VERSION", "STAGE", *(name.upper() for name in metrics), "TAGS", "DESCRIPTION", "CREATED")
    for version in items:
        scores = [(version.get("metrics") or {}).get(name) for name in metrics]
        _add(
            table,
            version["version"],
            version["stage"],
            *scores,
            version.get("tags"),
            version.get("description") or None,
            version.get("created_at"),
        )
    return _listing(page, "versions", table)


def history_table(page: Page) -> RenderableType:
    table = _table("AT", "ACTION", "VERSION", "FROM", "TO", "ACTOR", "APPROVED BY", "REASON")
    for entry in page.get("items") or []:
        _add(
            table,
            entry["at"],
            entry["action"],
            entry["version"],
            entry.get("from_stage"),
            entry["to_stage"],
            _actor(entry.get("actor")),
            _actor(entry.get("approved_by")) if entry.get("approved_by") else None,
            entry.get("reason") or None,
        )
    return _listing(page, "history", table)


def runs_table(page: Page) -> RenderableType:
    """A page of runs, one row each."""
    table = _table("RUN ID", "MODEL", "TRIGGER", "STATUS", "STEP", "VERSION", "ACCURACY", "STARTED")
    for run in page.get("items") or []:
        _add(
            table,
            run.get("run_id"),
            run.get("model"),
            run.get("trigger"),
            run.get("status"),
            run.get("step"),
            run.get("registered_version"),
            (run.get("metrics") or {}).get("accuracy"),
            run.get("started_at"),
        )
    return _listing(page, "training runs", table)


def run_view(run: Run) -> RenderableType:
    return Text("\n".join(run_lines(run)))


def runs_comparison_view(comparison: Mapping[str, Any]) -> RenderableType:
    return Text("\n".join(compare_lines(comparison["a"], comparison["b"])))


def stage_change(change: Mapping[str, Any]) -> RenderableType:
    return Text(f"{change['version']}: {change.get('previous_stage')} -> {change['stage']}")


def rollback_view(rollback: Mapping[str, Any]) -> RenderableType:
    return Text(
        f"production is {rollback['production_version']} (rolled back from {rollback['rolled_back_from']})"
    )


def comparison_view(comparison: Mapping[str, Any]) -> RenderableType:
    """`compare A B`: metrics with deltas, then what else differs."""
    a, b = comparison["a"], comparison["b"]
    parts: list[RenderableType] = []
    metrics = _table("METRIC", a, b, "DELTA")
    for name, values in (comparison.get("metrics") or {}).items():
        _add(metrics, name, values.get("a"), values.get("b"), format_delta(values.get("delta")))
    if metrics.row_count:
        parts.append(metrics)
    for title in ("params", "lineage"):
        differing = _table(title.upper(), a, b)
        for name, values in (comparison.get(title) or {}).items():
            if values.get("a") != values.get("b"):
                _add(differing, name, values.get("a"), values.get("b"))
        if differing.row_count:
            parts += [Text(""), differing]
    schema = {key: names for key, names in (comparison.get("input_schema") or {}).items() if names}
    if schema:
        parts += [Text(""), Text("input schema: " + "; ".join(f"{k} {cell(v)}" for k, v in schema.items()))]
    return Group(*parts) if parts else Text(f"{a} and {b} do not differ")


def traffic_view(split: Mapping[str, Any]) -> RenderableType:
    table = _table("VARIANT", "VERSION", "WEIGHT")
    for route in split.get("routes") or []:
        _add(table, route.get("variant") or route["version"], route["version"], f"{route['weight']}%")
    shadow = split.get("shadow")
    if not shadow:
        return table
    return Group(table, Text(f"shadow: {shadow['version']} on {shadow['sample_rate']:.0%} of requests"))


def arm(figures: Mapping[str, Any] | None) -> str:
    """A canary arm's figures for a step: `0/64 errors, p99 3.2 ms`."""
    if not figures or not figures.get("invocations"):
        return "no requests"
    p99 = figures.get("p99_ms")
    latency = f", p99 {p99:.1f} ms" if p99 is not None else ""
    return f"{figures['errors']}/{figures['invocations']} errors{latency}"


def canary_line(rollout: Mapping[str, Any]) -> str:
    """Where a rollout is, in one line: `1.2.0 over 1.1.0: running, step 1 of 2 (50%)`."""
    total = len((rollout.get("settings") or {}).get("steps") or []) or len(rollout.get("steps") or [])
    line = f"{rollout['version']} over {rollout['incumbent']}: {rollout['status']}"
    if rollout.get("steps"):
        line += f", step {rollout['step'] + 1} of {total} ({rollout['weight']}%)"
    if rollout["status"] != "running" and rollout.get("reason"):
        line += f": {rollout['reason']}"
    return line


def canary_view(rollout: Mapping[str, Any]) -> RenderableType:
    """A rollout: where it is, then each step with the figures it was judged on."""
    if "status" not in rollout:  # a rollout just started: `{execution_arn}`
        return details(rollout)
    steps = _table("STEP", "WEIGHT", "CANARY", "INCUMBENT", "VERDICT", "STARTED")
    for number, step in enumerate(rollout.get("steps") or [], start=1):
        _add(
            steps,
            number,
            f"{step['weight']}%",
            arm(step.get("canary")),
            arm(step.get("incumbent")),
            step.get("verdict") or "judging",
            step.get("started_at"),
        )
    return Group(Text(canary_line(rollout)), steps) if steps.row_count else Text(canary_line(rollout))


def drift_view(report: Mapping[str, Any]) -> RenderableType:
    """A drift check (its features and data-quality findings), or past checks without data."""
    if "items" in report:
        return drift_history_table(report)
    verdict = "drift" if report.get("dataset_drift") else "no drift"
    drifted, checked = len(report.get("drifted_features") or []), len(report.get("features") or {})
    threshold = format_value(report.get("dataset_drift_threshold"))
    head = Text(
        f"{report.get('model')} {report.get('version')}: {verdict} ({drifted} of {checked} features"
        f" drifted, threshold {threshold}), {report.get('rows')} rows"
    )
    features = _table("FEATURE", "KIND", "METHOD", "STATISTIC", "P-VALUE", "THRESHOLD", "DRIFTED")
    for name, feature in (report.get("features") or {}).items():
        _add(
            features,
            name,
            feature.get("kind"),
            feature.get("method"),
            feature.get("statistic"),
            feature.get("p_value"),
            feature.get("threshold"),
            "yes" if feature.get("drifted") else "no",
        )
    parts: list[RenderableType] = [head, features]
    findings = _table("SEVERITY", "CHECK", "FEATURE", "MESSAGE")
    for finding in report.get("data_quality") or []:
        _add(findings, finding["severity"], finding["check"], finding["feature"], finding["message"])
    if findings.row_count:
        parts += [Text(""), findings]
    parts.append(Text(f"report {report.get('report_id')}: {report.get('report_uri')}"))
    return Group(*parts)


def drift_history_table(page: Page) -> RenderableType:
    table = _table("CREATED", "REPORT", "VERSION", "TRIGGER", "ROWS", "DRIFT", "DRIFTED FEATURES", "QUALITY")
    for item in page.get("items") or []:
        _add(
            table,
            item["created_at"],
            item["report_id"],
            item["version"],
            item["trigger"],
            item["rows"],
            f"{'yes' if item['dataset_drift'] else 'no'} ({item['drift_share']:.0%})",
            item.get("drifted_features"),
            "failed" if item.get("data_quality_failed") else "ok",
        )
    return _listing(page, "drift reports", table)
