"""Build the layers and function code on the host, so synthesis never needs Docker.

What Lambda loads is built here: third-party layers with pip (console scripts and test suites removed),
the `lambdaops` layer and each function's folder copied without build leftovers. Each is then compiled
for the runtime's Python when this host has that interpreter: unchecked-hash bytecode (a read-only `/opt`
never recompiles and never checks source mtimes) that records the path Lambda mounts it at. Without it,
cold starts compile every module from source.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess  # nosec B404 # fixed argument lists, never a shell
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from lambdaops_tools.deployment import PYTHON_RUNTIME

# Wheels for the Lambda runtime's interpreter and CPU, whatever the host runs. pip does not widen a
# manylinux tag to older glibc versions, so name each one Lambda's Amazon Linux 2023 (glibc 2.34) runs:
# onnxruntime ships only manylinux_2_28 wheels, most others only manylinux2014.
PIP_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_34_x86_64")
PIP_PYTHON_VERSION = PYTHON_RUNTIME.removeprefix("python")
RUNTIME_CACHE_TAG = "cpython-" + PIP_PYTHON_VERSION.replace(".", "")
"""`sys.implementation.cache_tag` of the runtime's interpreter: the `.pyc` names it reads."""

RUNTIME_PYTHON_VARIABLE = "LAMBDAOPS_LAYER_PYTHON"
"""Names the interpreter that compiles the bundles, where `python3.13` is not on PATH or in pyenv."""

# Where Lambda mounts what it runs: layers merged under /opt, the function's own code at /var/task.
LAYER_MOUNT = "/opt/python"
CODE_MOUNT = "/var/task"

# Bytecode and build metadata are not code.
PACKAGE_LAYER_EXCLUDE = ["**/__pycache__", "**/*.pyc", "python/*.egg-info"]
CODE_EXCLUDE = ["**/__pycache__", "**/*.pyc"]
COPY_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")

PACKAGE = "lambdaops"


def pip_install_args(requirements: str, target: str) -> list[str]:
    """`pip` arguments that install Lambda-ready wheels into `target`, on any host."""
    return [
        "install",
        "--quiet",
        # The bundling interpreter's .pyc files would be dead weight under the runtime's Python.
        "--no-compile",
        # The requirements files pin every package; no resolver run may add one (such as botocore).
        "--no-deps",
        "--requirement",
        requirements,
        "--target",
        target,
        *(option for platform in PIP_PLATFORMS for option in ("--platform", platform)),
        "--implementation",
        "cp",
        "--python-version",
        PIP_PYTHON_VERSION,
        "--only-binary=:all:",
    ]


def compileall_args(tree: str, mounted_at: str) -> list[str]:
    """`python` arguments that compile every module under `tree` as Lambda will find it at `mounted_at`."""
    return [
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        # Never compared with the source: a read-only /opt can neither be checked cheaply nor rewritten.
        "--invalidation-mode",
        "unchecked-hash",
        # Tracebacks and warnings name /opt/python/... and /var/task/..., not this host's build folder.
        "-s",
        tree,
        "-p",
        mounted_at,
        tree,
    ]


def _cache_tag(python: str) -> str | None:
    try:
        done = subprocess.run(  # nosec B603 # argument list built here from fixed parts, no shell
            [python, "-c", "import sys; print(sys.implementation.cache_tag)"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _pyenv_pythons() -> list[str]:
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found = root.glob(f"versions/{PIP_PYTHON_VERSION}*/bin/{PYTHON_RUNTIME}")

    def version(path: Path) -> tuple[int, ...]:
        release = path.parents[1].name.removeprefix(PIP_PYTHON_VERSION).lstrip(".")
        return tuple(int(part) for part in release.split(".") if part.isdigit())

    return [str(path) for path in sorted(found, key=version, reverse=True)]


@functools.cache
def runtime_python() -> str | None:
    """An interpreter on this host that reads the runtime's bytecode, or None.

    `$LAMBDAOPS_LAYER_PYTHON`, then `python3.13` on PATH, then pyenv's newest 3.13; each one is run, since
    a pyenv shim is on PATH even where its version is not selected.
    """
    override = os.environ.get(RUNTIME_PYTHON_VARIABLE)
    candidates = [override] if override else []
    candidates += [found for found in [shutil.which(PYTHON_RUNTIME)] if found]
    for candidate in [*candidates, *_pyenv_pythons()]:
        if _cache_tag(candidate) == RUNTIME_CACHE_TAG:
            return candidate
        if candidate == override:
            print(
                f"lambdaops: ${RUNTIME_PYTHON_VARIABLE}={override} is not a {PYTHON_RUNTIME} interpreter;"
                " ignored",
                file=sys.stderr,
            )
    return None


@functools.cache
def _say_sources_only() -> None:
    print(
        f"lambdaops: no {PYTHON_RUNTIME} on this host (set ${RUNTIME_PYTHON_VARIABLE} to one): the layers"
        " and functions ship sources only, and each cold start compiles them",
        file=sys.stderr,
    )


def bytecode_python() -> str | None:
    """The interpreter that compiles bundles on this host; says once on stderr when there is none."""
    python = runtime_python()
    if python is None:
        _say_sources_only()
    return python


def compile_bytecode(tree: Path, mounted_at: str, python: str) -> None:
    """Writes unchecked-hash `.pyc` files for every module under `tree`, for `python`'s version."""
    command = [python, *compileall_args(str(tree.resolve()), mounted_at)]
    subprocess.run(command, check=True)  # nosec B603 # argument list built here from fixed parts, no shell


def prune_installed_packages(site: Path) -> list[Path]:
    """Removes what no function imports from a `pip --target` folder: console scripts (whose shebangs
    name the build host's interpreter) and the packages' test suites. Returns what it removed.

    A test suite is a `tests` folder inside a package, or a `test` folder of `test_*.py` modules; modules
    that merely have `test` in their name (`scipy/stats/_page_trend_test.py`) are statistics, and stay.
    """
    suites = {path for path in site.glob("*/**/tests") if path.is_dir()}
    suites |= {path.parent for path in site.glob("*/**/test/test_*.py")}
    removed: list[Path] = []
    scripts = site / "bin"
    if scripts.is_dir():
        shutil.rmtree(scripts)
        removed.append(scripts)
    for path in sorted(suites):
        if not any(path.is_relative_to(done) for done in removed):
            shutil.rmtree(path)
            removed.append(path)
    return removed


def bundle_dependency_layer(requirements: Path, output_dir: Path, python: str | None) -> None:
    """A dependency layer in `output_dir/python`; compiled by `python` unless it is None."""
    target = output_dir / "python"
    subprocess.run(  # nosec B603 # argument list built here from fixed parts, no shell
        [sys.executable, "-m", "pip", *pip_install_args(str(requirements), str(target))], check=True
    )
    prune_installed_packages(target)
    if python is not None:
        compile_bytecode(target, LAYER_MOUNT, python)


def bundle_package_layer(layer_dir: Path, output_dir: Path, python: str | None) -> None:
    """The `lambdaops` layer in `output_dir/python`: the package only, compiled by `python` unless None."""
    target = output_dir / "python"
    shutil.copytree(layer_dir / "python" / PACKAGE, target / PACKAGE, ignore=COPY_IGNORE)
    if python is not None:
        compile_bytecode(target, LAYER_MOUNT, python)


def bundle_function_code(code_dir: Path, output_dir: Path, python: str | None) -> None:
    """A function's code folder in `output_dir`, compiled by `python` unless it is None."""
    shutil.copytree(code_dir, output_dir, ignore=COPY_IGNORE, dirs_exist_ok=True)
    if python is not None:
        compile_bytecode(output_dir, CODE_MOUNT, python)


@jsii.implements(cdk.ILocalBundling)
class HostBundling:
    """Runs `bundle(output_dir, python)` here, with the runtime's interpreter where this host has one."""

    def __init__(self, bundle: Callable[[Path, str | None], None]) -> None:
        self.bundle = bundle

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: Any) -> bool:
        """Always bundles locally; a failing step raises rather than falling back to Docker."""
        self.bundle(Path(output_dir), bytecode_python())
        return True


def _shell(*steps: str) -> list[str]:
    return ["bash", "-c", " && ".join(["set -euo pipefail", *steps])]


def _docker_compile(tree: str, mounted_at: str) -> str:
    """The compile step in the bundling image, whose `python` is the runtime's."""
    return " ".join(["python", *compileall_args(tree, mounted_at)])


def _bundling(local: HostBundling, image: cdk.DockerImage, command: list[str]) -> cdk.BundlingOptions:
    """Local bundling, with `command` in `image` as the Docker form CDK requires.

    The Docker command and environment are part of the asset hash: changing a step, or this host gaining
    or losing the runtime's interpreter, rebuilds the asset.
    """
    bytecode = RUNTIME_CACHE_TAG if runtime_python() else "none"
    return cdk.BundlingOptions(
        image=image, local=local, command=command, environment={"LAMBDAOPS_BYTECODE": bytecode}
    )


def layer_bundling_options(requirements: Path, image: cdk.DockerImage) -> cdk.BundlingOptions:
    """A dependency layer's bundling: pip, then console scripts and test suites removed, then compiled."""
    out = "/asset-output/python"
    return _bundling(
        HostBundling(functools.partial(bundle_dependency_layer, requirements)),
        image,
        _shell(
            " ".join(["pip", *pip_install_args(f"/asset-input/{requirements.name}", out)]),
            f"rm -rf {out}/bin",
            f"find {out} -mindepth 2 -type d -name tests -prune -exec rm -rf {{}} +",
            f"find {out} -mindepth 3 -type f -path '*/test/test_*.py' -printf '%h\\n' | sort -u"
            " | xargs -r rm -rf",
            _docker_compile(out, LAYER_MOUNT),
        ),
    )


def package_layer_code(scope: Construct, layer_dir: Path, image: cdk.DockerImage) -> lambda_.Code:
    """The `lambdaops` layer's code: `python/lambdaops` without build leftovers, compiled."""
    out = "/asset-output/python"
    return _copied_code(
        scope,
        layer_dir,
        image,
        PACKAGE_LAYER_EXCLUDE,
        HostBundling(functools.partial(bundle_package_layer, layer_dir)),
        copy=(f"mkdir -p {out}", f"cp -R /asset-input/python/{PACKAGE} {out}/"),
        out=out,
        mount=LAYER_MOUNT,
    )


def function_code(scope: Construct, code_dir: Path, image: cdk.DockerImage) -> lambda_.Code:
    """A function's code: its folder without build leftovers, compiled."""
    out = "/asset-output"
    return _copied_code(
        scope,
        code_dir,
        image,
        CODE_EXCLUDE,
        HostBundling(functools.partial(bundle_function_code, code_dir)),
        copy=(f"cp -R /asset-input/. {out}/",),
        out=out,
        mount=CODE_MOUNT,
    )


def _copied_code(
    scope: Construct,
    source: Path,
    image: cdk.DockerImage,
    exclude: list[str],
    host: HostBundling,
    *,
    copy: tuple[str, ...],
    out: str,
    mount: str,
) -> lambda_.Code:
    """Code copied from `source` without build leftovers and compiled, on the host or in `image`."""
    if not cdk.Stack.of(scope).bundling_required:
        # Bundling is skipped (tests): CDK would stage the source folder as is, leftovers and all.
        return lambda_.Code.from_asset(str(source), exclude=exclude)
    leftovers = (
        f"find {out} \\( -name __pycache__ -o -name '*.pyc' -o -name '*.egg-info' \\) -prune"
        " -exec rm -rf {} +"
    )
    return lambda_.Code.from_asset(
        str(source),
        exclude=exclude,
        bundling=_bundling(host, image, _shell(*copy, leftovers, _docker_compile(out, mount))),
    )
