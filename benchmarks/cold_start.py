"""Cold starts as Lambda runs them: `.venv/bin/python benchmarks/cold_start.py [--smoke] [--runs N]`.

Each function runs as Lambda runs it: Python 3.13 (`-I -S`: no host packages, no site), its code at
sys.path[0] (Lambda's /var/task), its layers merged into one `opt/python` folder (Lambda extracts them in
order into /opt), then a folder standing for Lambda's /var/runtime with boto3 and botocore (pinned as in
pyproject.toml and the venv; compiled, as the runtime's own are), all read-only. Every tree is built by
`infra/layer_bundling.py`, the code `cdk synth` runs: the dependency layers with pip from Lambda's cp313
manylinux wheels (cached in `.bench-cache/`, keyed by the requirements and the bundling code), the
`lambdaops` layer and each function's folder fresh.

(a) Cold start, twice per function: the layers and code as bundled (unchecked-hash bytecode for the
    runtime) and bundled with the compile step skipped (sources only: every module compiled at each cold
    start, which is what a read-only /opt without .pyc costs). Timed in a fresh process each, from the
    interpreter's first statement: the handler module's import (its init: settings, clients, resolver),
    and for the drift function also its first `import scipy.stats` after that (the first drift check's
    import). Median and fastest of N processes each, the two variants interleaved, after one untimed
    process of each (the page cache is warm for both; in Lambda it may be cold for both). `-B` keeps
    every run from writing .pyc (root ignores the read-only mode; Lambda's /opt is a read-only mount).
(b) Each function's unzipped size, its code plus each of its layers as Lambda counts them, against the
    250 MB limit, with and without bytecode.
(c) Each dependency layer: as pip installs it, after the cleanup (console scripts and test suites), and
    with bytecode.

`--smoke`: one run each, no pip and no network: third-party packages come from the venv (its interpreter
runs the functions, and the bundles are compiled for it); the bundling and timing code still runs, its
figures mean nothing. Without python3.13 the full run does the same with N runs: import times under the
host's interpreter, no layer sizes.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `infra`, as `python -m infra.app` imports it

from dependency_size import table  # noqa: E402

from infra import layer_bundling  # noqa: E402
from infra.layer_bundling import (  # noqa: E402
    bundle_dependency_layer,
    bundle_function_code,
    bundle_package_layer,
    pip_install_args,
    runtime_python,
)
from lambdaops_tools.deployment import DEPLOYMENT, PYTHON_RUNTIME, DependencySet, FunctionSpec  # noqa: E402
from lambdaops_tools.local.resources import LocalResources  # noqa: E402

CACHE = ROOT / ".bench-cache" / "cold_start"
LIMIT_MB = 250
VARIANTS = ("sources", "bytecode")
FIRST_IMPORTS = {"drift": "scipy.stats"}
"""A module a function imports on its first request, off its init path, timed after the handler."""

AWS_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "LAMBDAOPS_PRELOAD_MODELS": "",  # the predict function loads no model at init: no AWS call
}

# Timed from the child's first statement, so interpreter start-up and exit are excluded.
CHILD = """
import time
started = time.perf_counter()
import importlib, json, sys
sys.path[:0] = json.loads(sys.argv[1])
importlib.import_module(sys.argv[2])
imported = time.perf_counter()
result = {"handler": imported - started}
if sys.argv[3]:
    importlib.import_module(sys.argv[3])
    result[sys.argv[3]] = time.perf_counter() - imported
print(json.dumps(result))
"""


@dataclass(frozen=True)
class Function:
    """A function built one way: the paths its process puts first on sys.path, and what ships."""

    spec: FunctionSpec
    path: list[Path]
    """[code, merged layers, runtime]: /var/task, /opt/python, /var/runtime."""
    shipped: list[Path]
    """Its code folder and each of its layers' folders, as Lambda counts their unzipped size."""


@dataclass(frozen=True)
class Layout:
    """How this run builds the functions' trees, by whether it has Lambda's interpreter."""

    python: str
    """Runs the functions and compiles their bundles."""
    lambda_like: bool
    """python3.13 with cp313 layers from pip; otherwise the host's interpreter over the venv."""


def tree_bytes(tree: Path) -> int:
    return sum(path.stat().st_size for path in tree.rglob("*") if path.is_file() and not path.is_symlink())


def mb(size: int) -> str:
    return f"{size / 1e6:.1f}"


def make_writable(tree: Path) -> None:
    for folder, _, _ in os.walk(tree):
        os.chmod(folder, 0o755)


def make_read_only(tree: Path) -> None:
    """`chmod -R a-w`."""
    for path in [tree, *tree.rglob("*")]:
        if not path.is_symlink():
            os.chmod(path, path.stat().st_mode & ~0o222)


def remove(tree: Path) -> None:
    if tree.exists():
        make_writable(tree)
        shutil.rmtree(tree)


def merge_layers(layers: list[Path], target: Path) -> None:
    """Each layer's `python` folder into `target`, later layers winning, as Lambda extracts them into /opt.

    Hard links, not copies: the files stay the cached ones.
    """

    def link(source: str, destination: str) -> None:
        if os.path.lexists(destination):
            os.unlink(destination)
        try:
            os.link(source, destination)
        except OSError:
            shutil.copy2(source, destination)

    for layer in layers:
        shutil.copytree(layer / "python", target, copy_function=link, dirs_exist_ok=True)


def cache_key(*parts: bytes) -> str:
    digest = hashlib.sha256(Path(layer_bundling.__file__).read_bytes())
    for part in parts:
        digest.update(part)
    return digest.hexdigest()[:16]


def cached(folder: Path, build: Callable[[Path], object]) -> Path:
    """`folder`, built by `build(partial)` into a partial folder first, so an interrupted run rebuilds it."""
    if not folder.is_dir():
        partial = folder.with_name(folder.name + ".partial")
        remove(partial)
        build(partial)
        partial.rename(folder)
    return folder


def drop_stale(current: Path) -> None:
    """Earlier builds of the same thing (other keys), so the cache holds one of each."""
    for stale in CACHE.glob(current.name.rsplit("-", 1)[0] + "-*"):
        if stale != current:
            remove(stale)


def dependency_layers(dep: DependencySet, python: str) -> dict[str, Path]:
    """The layer bundled both ways, and as pip alone installs it (for its size); cached per requirements
    and bundling code."""
    root = CACHE / f"{dep.name}-{cache_key(dep.requirements.read_bytes(), python.encode())}"
    drop_stale(root)
    pip = [sys.executable, "-m", "pip"]
    return {
        "pip": cached(
            root / "pip",
            lambda out: subprocess.run(
                [*pip, *pip_install_args(str(dep.requirements), str(out / "python"))], check=True
            ),
        ),
        "sources": cached(root / "sources", lambda out: bundle_dependency_layer(dep.requirements, out, None)),
        "bytecode": cached(
            root / "bytecode", lambda out: bundle_dependency_layer(dep.requirements, out, python)
        ),
    }


def boto_requirements() -> list[str]:
    """boto3 as pyproject.toml pins it, and the botocore the venv (and so the tests) runs with."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    found = re.search(r'"(boto3==[^"]+)"', pyproject)
    assert found, "pyproject.toml pins no boto3"
    return [found.group(1), f"botocore=={importlib.metadata.version('botocore')}"]


def lambda_runtime(python: str) -> Path:
    """Stands for /var/runtime: boto3 and botocore, installed (and compiled) by the runtime's Python."""
    requirements = boto_requirements()
    key = cache_key(" ".join(requirements).encode(), python.encode())

    def install(out: Path) -> None:
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--target", str(out), *requirements], check=True
        )
        make_read_only(out)

    folder = CACHE / f"runtime-{key}"
    drop_stale(folder)
    return cached(folder, install)


def build(layout: Layout, work: Path) -> tuple[dict[str, dict[str, Function]], list[tuple[str, ...]]]:
    """Every function, built both ways under `work`; and the dependency layers' size lines."""
    layer_lines: list[tuple[str, ...]] = []
    layers: dict[str, dict[str, Path]] = {}
    if layout.lambda_like:
        for dep in DEPLOYMENT.dependency_sets:
            built = dependency_layers(dep, layout.python)
            layers[dep.name] = built
            pip_size, sources, compiled = (tree_bytes(built[name]) for name in ("pip", *VARIANTS))
            layer_lines.append(
                (
                    dep.name,
                    mb(pip_size),
                    mb(sources),
                    mb(pip_size - sources),
                    mb(compiled),
                    mb(compiled - sources),
                )
            )
        runtime = lambda_runtime(layout.python)
    else:
        # The venv's third-party packages stand for both the dependency layers and /var/runtime.
        runtime = Path(sysconfig.get_paths()["purelib"])
    functions: dict[str, dict[str, Function]] = {spec.name: {} for spec in DEPLOYMENT.functions}
    for variant in VARIANTS:
        python = layout.python if variant == "bytecode" else None
        package_layer = work / variant / "lambdaops"
        bundle_package_layer(DEPLOYMENT.package_layer, package_layer, python)
        for spec in DEPLOYMENT.functions:
            code = work / variant / "code" / spec.name
            bundle_function_code(spec.code_dir, code, python)
            # Without cp313 layers the venv (on the path as `runtime`) holds the third-party packages.
            own_layers = [package_layer, *(layers[dep][variant] for dep in spec.dependency_sets if layers)]
            opt = work / variant / "opt" / spec.name / "python"
            merge_layers(own_layers, opt)
            if variant == "sources":
                assert not list(code.rglob("*.pyc")) and not list(opt.rglob("*.pyc")), "sources only"
            functions[spec.name][variant] = Function(spec, [code, opt, runtime], [code, *own_layers])
    make_read_only(work)
    return functions, layer_lines


def cold_start(python: str, function: Function) -> dict[str, float]:
    """One fresh process: seconds to import the handler, and its first-request import if it has one."""
    spec = function.spec
    env = {"PATH": os.environ.get("PATH", ""), **LocalResources.declared().environment(spec), **AWS_ENV}
    module = spec.handler.rpartition(".")[0]
    done = subprocess.run(
        [
            python,
            "-I",
            "-S",
            "-B",
            "-c",
            CHILD,
            json.dumps([str(path) for path in function.path]),
            module,
            FIRST_IMPORTS.get(spec.name, ""),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tempfile.gettempdir(),
    )
    assert done.returncode == 0, f"{spec.name}: {done.stderr[-3000:]}"
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def cold_starts(python: str, functions: dict[str, dict[str, Function]], runs: int, warm_up: bool) -> None:
    times: dict[tuple[str, str, str], list[float]] = {}
    warm_ups = 1 if warm_up else 0
    for run in range(warm_ups + runs):
        for name, variants in functions.items():
            for variant in VARIANTS:
                result = cold_start(python, variants[variant])
                if run < warm_ups:
                    continue
                for measured, seconds in result.items():
                    times.setdefault((name, measured, variant), []).append(seconds)
    lines = []
    for name, measured in dict.fromkeys((name, measured) for name, measured, _ in times):
        sources, compiled = times[(name, measured, "sources")], times[(name, measured, "bytecode")]
        what = "handler import" if measured == "handler" else f"then first import {measured}"
        lines.append(
            (
                name,
                what,
                f"{statistics.median(sources):.3f}",
                f"{statistics.median(compiled):.3f}",
                f"{statistics.median(sources) / statistics.median(compiled):.2f}x",
                f"{min(sources):.3f}",
                f"{min(compiled):.3f}",
            )
        )
    table(
        f"(a) cold start, seconds, median of {runs} fresh `-I -S` processes each: sources only vs"
        " bytecode as bundled",
        ("function", "what", "sources s", "bytecode s", "ratio", "fastest sources", "fastest bytecode"),
        lines,
    )


def sizes(functions: dict[str, dict[str, Function]]) -> None:
    lines = []
    for name, variants in functions.items():
        sources, compiled = (sum(tree_bytes(path) for path in variants[v].shipped) for v in VARIANTS)
        layers = " + ".join(["lambdaops", *variants["bytecode"].spec.dependency_sets])
        lines.append(
            (
                name,
                layers,
                mb(sources),
                mb(compiled),
                mb(compiled - sources),
                f"{compiled / 1e6 / LIMIT_MB:.0%}",
                "met" if compiled / 1e6 <= LIMIT_MB else "MISSED",
            )
        )
    table(
        f"(b) unzipped size of each function: its code + its layers, MB, against Lambda's {LIMIT_MB} MB",
        ("function", "layers", "sources MB", "bytecode MB", "bytecode cost MB", "of the limit", "limit"),
        lines,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="one run each, no pip: shows the script runs")
    parser.add_argument("--runs", type=int, default=9, help="fresh processes per function and variant")
    args = parser.parse_args()
    started = time.perf_counter()
    python = runtime_python()
    if args.smoke:
        layout = Layout(python=sys.executable, lambda_like=False)
    elif python is None:
        print(f"no {PYTHON_RUNTIME} on this host: the host's interpreter over the venv; no layer sizes")
        layout = Layout(python=sys.executable, lambda_like=False)
    else:
        layout = Layout(python=python, lambda_like=True)
    version = subprocess.run(
        [layout.python, "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"functions run by python {version} ({layout.python}), {os.cpu_count()} CPUs")
    print("load average (1, 5, 15 min) at the start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if args.smoke:
        print("smoke run: one run each, the venv's packages; its figures measure nothing")
    runs = 1 if args.smoke else args.runs
    # Beside the cached layers when they are used, so that merging them can hard-link their files.
    if layout.lambda_like:
        CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="cold-start-", dir=CACHE if layout.lambda_like else None))
    try:
        functions, layer_lines = build(layout, work)
        cold_starts(layout.python, functions, runs, warm_up=not args.smoke)
        if layout.lambda_like:
            sizes(functions)
            table(
                "(c) dependency layers unzipped, MB: pip's install, after the cleanup (bin/, tests), with"
                " bytecode",
                ("layer", "pip MB", "cleaned MB", "removed MB", "bytecode MB", "bytecode cost MB"),
                layer_lines,
            )
    finally:
        remove(work)
    print(
        f"\nwhole run: {time.perf_counter() - started:.0f} s; load average at the end:"
        " {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    )


if __name__ == "__main__":
    main()
