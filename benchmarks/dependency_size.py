"""How big a function's third-party dependencies are unzipped, and the table printer the benchmarks share.

A Lambda function's code plus its layers must stay under 250 MB unzipped, so each benchmark reports its
function's share. The size is read from the venv, not from a built layer: the files listed in the
dist-info RECORDs of every package pinned in the function's dependency sets (`lambdaops.deployment`),
with and without the .pyc files pip compiled into the venv (a layer is built with `pip --no-compile`,
so it has none).
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "lambdaops" / "python"))

from lambdaops_tools.deployment import DEPLOYMENT  # noqa: E402


def table(title: str, header: tuple[str, ...], lines: list[tuple[Any, ...]]) -> None:
    cells = [tuple(str(cell) for cell in line) for line in [header, *lines]]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    print(f"\n{title}")
    for index, line in enumerate(cells):
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
        if index == 0:
            print("  " + "  ".join("-" * width for width in widths))


def _requirement_names(path: Path) -> list[str]:
    names = []
    for line in path.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            names.append(re.split(r"[=<>!~\[; ]", requirement, maxsplit=1)[0])
    return names


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_size(function: str, target_mb: float, forbidden: tuple[str, ...], label: str) -> None:
    """Print the table for one function of `DEPLOYMENT`; a forbidden package among its layers fails."""
    # The function's own sets first, the shared base last: the order the table's title names them in.
    dependency_sets = tuple(reversed(DEPLOYMENT.function(function).dependency_sets))
    wanted: dict[str, str] = {}
    pinned: dict[str, str] = {}
    for dependency_set in dependency_sets:
        requirements = DEPLOYMENT.dependency_set(dependency_set).requirements
        for name in _requirement_names(requirements):
            wanted[_normal(name)] = dependency_set
        for line in requirements.read_text().splitlines():
            if "==" in line and not line.startswith("#"):
                pinned[_normal(line.split("==")[0])] = line.split("==")[1].strip()
    for name in forbidden:
        assert _normal(name) not in wanted, f"{name} is pinned in a layer the {function} function uses"
    sizes: dict[str, tuple[str, int, int]] = {}
    for distribution in importlib.metadata.distributions():
        name = _normal(distribution.metadata["Name"])
        if name in wanted and name not in sizes:
            installed = shipped = 0
            for file in distribution.files or []:
                located = Path(str(distribution.locate_file(file)))
                if located.is_file():
                    size = located.stat().st_size
                    installed += size
                    shipped += 0 if "__pycache__" in file.parts else size
            sizes[name] = (distribution.version, installed, shipped)
    missing = sorted(set(wanted) - set(sizes))
    lines: list[tuple[Any, ...]] = []
    for name, (version, installed, shipped) in sorted(sizes.items(), key=lambda item: -item[1][1]):
        note = "" if version == pinned.get(name) else f" (pinned {pinned.get(name)})"
        lines.append((name, wanted[name], version + note, f"{installed / 1e6:.1f}", f"{shipped / 1e6:.1f}"))
    installed_mb = sum(size[1] for size in sizes.values()) / 1e6
    shipped_mb = sum(size[2] for size in sizes.values()) / 1e6
    lines.append(("total", "", "", f"{installed_mb:.1f}", f"{shipped_mb:.1f}"))
    verdicts = ["met" if mb <= target_mb else "MISSED" for mb in (installed_mb, shipped_mb)]
    lines.append((f"target <= {target_mb:g} MB", "", "", *verdicts))
    if missing:
        lines.append(("not in the venv, not counted", "", ", ".join(missing), "", ""))
    layers = " + ".join(f"layers/{name}" for name in dependency_sets)
    table(
        f"({label}) the {function} function's dependencies unzipped: {layers},"
        f" from the venv's RECORDs; {', '.join(forbidden)} absent",
        ("package", "layer", "version", "MB installed", "MB without .pyc (the layer: pip --no-compile)"),
        lines,
    )
