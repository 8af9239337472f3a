"""Every benchmark script still runs: each `benchmarks/*.py` with `--smoke` (smallest sizes, one run each).

Only that it exits 0 and prints a table is asserted, never a figure: a smoke run's figures measure nothing,
and a benchmark's targets are reported, not enforced. Here because predict.py runs the handlers on moto
and starts the local stack.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
NOT_SCRIPTS = {
    "dependency_size.py": "the table printer and size report the scripts import; they print its tables",
}
"""Modules in benchmarks/ that are not benchmarks, each with why it is not run on its own."""
SCRIPTS = sorted(path.name for path in BENCHMARKS.glob("*.py") if path.name not in NOT_SCRIPTS)
# A header's rule, as `dependency_size.table` prints it ("  ----  ---"), or a Markdown table's ("| --- |").
TABLE_RULE = re.compile(r"^[ |:+]*-{3,}[- |:+]*$", re.MULTILINE)


def test_every_module_in_benchmarks_is_run_or_excused() -> None:
    assert {"predict.py", "drift.py"} <= set(SCRIPTS)
    for name in NOT_SCRIPTS:
        source = (BENCHMARKS / name).read_text()
        assert "__main__" not in source, f"{name} runs as a script now: take it off NOT_SCRIPTS"
        importers = [s for s in SCRIPTS if f"from {name[:-3]} import" in (BENCHMARKS / s).read_text()]
        assert importers, f"no benchmark imports {name}, so no smoke run covers it"


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_runs_in_smoke_mode(script: str) -> None:
    # The script sets up the AWS it needs (moto, the local stack); nothing of the caller's may leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--smoke"],
        cwd=BENCHMARKS.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    shown = f"stdout:\n{done.stdout[-6000:]}\nstderr:\n{done.stderr[-6000:]}"
    assert done.returncode == 0, f"{script} --smoke exited {done.returncode}\n{shown}"
    assert TABLE_RULE.search(done.stdout), f"{script} --smoke printed no table\n{shown}"
