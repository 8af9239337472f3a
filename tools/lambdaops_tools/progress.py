"""Long work as it happens: uploads, training runs and canary rollouts. On a terminal a live display,
elsewhere (a log, a pipe, CI) one plain line per change, so that the output reads the same afterwards."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.spinner import Spinner
from rich.text import Text

from lambdaops_tools import render
from lambdaops_tools.client import LambdaopsClient

Sleep = Callable[[float], None]


def upload_files(s3: Any, bucket: str, files: Sequence[tuple[Path, str]], console: Console) -> None:
    """Uploads each `(path, key)`, with a transfer bar on a terminal."""
    if not console.is_terminal:
        for path, key in files:
            s3.upload_file(str(path), bucket, key)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("", total=sum(path.stat().st_size for path, _ in files))
        for path, key in files:
            progress.update(task, description=f"{path.name} -> s3://{bucket}/{key}")
            s3.upload_file(str(path), bucket, key, Callback=lambda sent: progress.advance(task, sent))


def _plain_lines(console: Console, once: bool = False) -> Callable[[str], None]:
    """Writes a line when it differs from the last one written (`once`: from every one written)."""
    shown: list[str] = []

    def write(line: str) -> None:
        if (line not in shown) if once else (shown[-1:] != [line]):
            console.file.write(line + "\n")
            console.file.flush()
            shown.append(line)

    return write


def _bar(run: Mapping[str, Any]) -> tuple[int | None, int]:
    """How far a run's job is, as (total, done): its epochs, or its trials; total None when unknown."""
    progress = run.get("progress") or {}
    if run.get("tuning") and progress.get("trials_completed") is not None:
        return run["tuning"].get("max_jobs"), progress["trials_completed"]
    epochs = (run.get("hyperparameters") or {}).get("epochs")
    if isinstance(epochs, int) and progress.get("epoch") is not None:
        return epochs, progress["epoch"]
    return None, 0


def follow_run(client: LambdaopsClient, run_id: str, console: Console, sleep: Sleep = time.sleep) -> Any:
    """Polls the run until it ends, showing where it is; returns the final run.

    On a terminal: each step as it is reached, above a live bar (epochs or trials) with the run's
    progress line; elsewhere the progress line whenever it changes."""
    if not console.is_terminal:
        write = _plain_lines(console)
        return client.wait_for_run(
            run_id, on_update=lambda run: write(render.progress_line(run)), sleep=sleep
        )
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    steps: list[str] = []
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"run {run_id}", total=None)

        def update(run: Any) -> None:
            if steps[-1:] != [run.get("step")]:
                steps.append(run.get("step"))
                progress.console.print(Text(f"step {run.get('step')}"))
            total, done = _bar(run)
            progress.update(task, description=render.progress_line(run), total=total, completed=done)

        return client.wait_for_run(run_id, on_update=update, sleep=sleep)


def _judged(rollout: Mapping[str, Any]) -> list[str]:
    """A line for each step judged so far."""
    return [
        f"step {number} ({step['weight']}%): {step['verdict']}; canary {render.arm(step.get('canary'))},"
        f" incumbent {render.arm(step.get('incumbent'))}"
        for number, step in enumerate(rollout.get("steps") or [], start=1)
        if step.get("verdict")
    ]


def follow_canary(client: LambdaopsClient, name: str, console: Console, sleep: Sleep = time.sleep) -> Any:
    """Polls the model's latest rollout until it ends; returns it. On a terminal its steps table, live;
    elsewhere a line when it moves to a step, and one for each step's verdict."""
    if not console.is_terminal:
        write = _plain_lines(console, once=True)

        def lines(rollout: Any) -> None:
            for line in [*_judged(rollout), render.canary_line(rollout)]:
                write(line)

        return client.wait_for_canary(name, on_update=lines, sleep=sleep)
    with Live(console=console, transient=True, refresh_per_second=8) as live:

        def show(rollout: Any) -> None:
            spinning = Spinner("dots", Text(render.canary_line(rollout)))
            live.update(Group(spinning, render.canary_view(rollout)))

        return client.wait_for_canary(name, on_update=show, sleep=sleep)
