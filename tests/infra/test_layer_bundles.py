"""What the bundling ships: the real bundling code run for the `lambdaops` layer and each function's code
(no pip), then each function imported from those bundles alone, as Lambda would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.layer_bundling import (
    CODE_MOUNT,
    LAYER_MOUNT,
    PACKAGE,
    RUNTIME_CACHE_TAG,
    bundle_function_code,
    bundle_package_layer,
    prune_installed_packages,
    runtime_python,
)
from lambdaops_tools.deployment import DEPLOYMENT, PYTHON_RUNTIME, FunctionSpec
from lambdaops_tools.local.resources import LocalResources

FUNCTIONS = DEPLOYMENT.functions
PYTHON = runtime_python()
SOURCE_PACKAGE = DEPLOYMENT.package_layer / "python" / PACKAGE

# Names of what stays outside Lambda: the tools tree and its parts, tests, build metadata.
NEVER_SHIPPED = {"lambdaops_tools", "cli.py", "local", "demo", "sample_models.py", "tests", "conftest.py"}


@dataclass(frozen=True)
class Bundles:
    layer: Path
    """The bundled `lambdaops` layer (it holds `python/lambdaops`)."""
    code: dict[str, Path]
    """Function name -> its bundled code folder."""


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Bundles:
    root = tmp_path_factory.mktemp("bundles")
    bundle_package_layer(DEPLOYMENT.package_layer, root / "lambdaops", PYTHON)
    code = {spec.name: root / "functions" / spec.name for spec in FUNCTIONS}
    for spec in FUNCTIONS:
        bundle_function_code(spec.code_dir, code[spec.name], PYTHON)
    return Bundles(layer=root / "lambdaops", code=code)


def sources(tree: Path) -> set[Path]:
    """Every file under `tree` but bytecode, relative to it."""
    return {
        path.relative_to(tree)
        for path in tree.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def bytecode(tree: Path) -> set[Path]:
    return set(tree.rglob("*.pyc"))


def test_the_lambdaops_layer_holds_the_package_and_nothing_else(bundles: Bundles) -> None:
    python = bundles.layer / "python"
    assert [path.name for path in python.iterdir()] == [PACKAGE]
    assert sources(python / PACKAGE) == sources(SOURCE_PACKAGE)
    assert (python / PACKAGE / "registry" / "catalog.py").is_file()
    for path in bundles.layer.rglob("*"):
        parts = set(path.relative_to(bundles.layer).parts)
        assert not parts & NEVER_SHIPPED, path
        assert not path.name.endswith((".egg-info", ".dist-info")), path


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_a_function_bundle_holds_its_folder(bundles: Bundles, spec: FunctionSpec) -> None:
    assert sources(bundles.code[spec.name]) == sources(spec.code_dir)
    assert (bundles.code[spec.name] / spec.module_file.name).is_file()


def test_bundles_hold_no_bytecode_but_the_runtimes(bundles: Bundles) -> None:
    """Whatever the working tree holds (`.pyc` of the venv's Python), only the runtime's is shipped."""
    for tree in [bundles.layer, *bundles.code.values()]:
        for pyc in bytecode(tree):
            assert pyc.parent.name == "__pycache__", pyc
            assert pyc.name.endswith(f".{RUNTIME_CACHE_TAG}.pyc"), pyc
        if PYTHON is None:
            assert not bytecode(tree)


# Run by the runtime's interpreter: is each module's .pyc the one it would load, unchecked, naming the
# path Lambda mounts the module at?
BYTECODE_CHECK = """
import importlib.util, json, marshal, sys
problems = []
for source, mounted in json.loads(sys.argv[1]):
    pyc = importlib.util.cache_from_source(source)
    try:
        data = open(pyc, "rb").read()
    except FileNotFoundError:
        problems.append(f"{source}: no {pyc}")
        continue
    flags = int.from_bytes(data[4:8], "little")
    if data[:4] != importlib.util.MAGIC_NUMBER or flags != 1:
        problems.append(f"{pyc}: magic {data[:4]!r}, flags {flags} (1 is unchecked-hash)")
    elif data[8:16] != importlib.util.source_hash(open(source, "rb").read()):
        problems.append(f"{pyc}: not compiled from this source")
    elif marshal.loads(data[16:]).co_filename != mounted:
        problems.append(f"{pyc}: records {marshal.loads(data[16:]).co_filename}, not {mounted}")
print(json.dumps(problems))
"""


def test_every_module_ships_unchecked_hash_bytecode_for_the_runtime(bundles: Bundles) -> None:
    if PYTHON is None:
        pytest.skip(f"no {PYTHON_RUNTIME} on this host: the bundles ship sources only")
    modules: list[tuple[str, str]] = []
    trees = [(bundles.layer / "python", LAYER_MOUNT), *((code, CODE_MOUNT) for code in bundles.code.values())]
    for tree, mount in trees:
        modules += [(str(path), f"{mount}/{path.relative_to(tree)}") for path in sorted(tree.rglob("*.py"))]
    assert len(modules) > len(FUNCTIONS)
    done = subprocess.run(
        [PYTHON, "-I", "-c", BYTECODE_CHECK, json.dumps(modules)], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == []


# Lambda's view: no site (so no .pth, no editable install of the tools), the function's code first.
IMPORT_PROBE = """
import importlib, json, sys
sys.path[:0] = json.loads(sys.argv[1])
handler = importlib.import_module(sys.argv[2])
assert callable(getattr(handler, sys.argv[3]))
print(json.dumps({
    name: getattr(module, "__file__", None)
    for name, module in sys.modules.items()
    if name.partition(".")[0] in ("lambdaops", "lambdaops_tools") or name == sys.argv[2]
}))
"""


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_every_function_imports_from_the_bundles(bundles: Bundles, spec: FunctionSpec) -> None:
    code, layer = bundles.code[spec.name], bundles.layer / "python"
    # Third-party packages only: the venv's site-packages holds no lambdaops, just an editable finder
    # that a -S interpreter never loads.
    third_party = sysconfig.get_paths()["purelib"]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        **LocalResources.declared().environment(spec),
    }
    module = spec.handler.rpartition(".")[0]
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-B",
            "-c",
            IMPORT_PROBE,
            json.dumps([str(code), str(layer), third_party]),
            module,
            spec.handler_attribute,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded: dict[str, str | None] = json.loads(done.stdout)
    assert Path(str(loaded.pop(module))).is_relative_to(code)
    assert PACKAGE in loaded
    for name, file in loaded.items():
        assert name.partition(".")[0] == PACKAGE, f"{spec.name} loaded {name}"
        assert file is not None and Path(file).is_relative_to(layer / PACKAGE), f"{name} from {file}"


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_pruning_removes_console_scripts_and_test_suites_only(tmp_path: Path) -> None:
    site = tmp_path / "python"
    removed = [
        write(site / "bin" / "f2py", "#!/build/host/venv/bin/python\n"),
        write(site / "numpy" / "tests" / "test_numeric.py"),
        write(site / "numpy" / "_core" / "tests" / "data" / "umath.csv"),
        write(site / "scipy" / "stats" / "tests" / "test_stats.py"),
        write(site / "pkg" / "test" / "test_api.py"),
    ]
    kept = [
        write(site / "numpy" / "__init__.py"),
        write(site / "numpy" / "_core" / "numeric.py"),
        write(site / "numpy" / "testing" / "__init__.py"),  # imported at run time by scipy
        write(site / "scipy" / "stats" / "__init__.py"),
        write(site / "scipy" / "stats" / "_page_trend_test.py"),  # a statistic, not a test
        write(site / "pkg" / "__init__.py"),
        write(site / "other" / "test" / "__init__.py"),  # a package named test, holding no tests
        write(site / "numpy-2.4.6.dist-info" / "RECORD"),
        write(site / "typing_extensions.py"),
    ]
    pruned = prune_installed_packages(site)
    assert sorted(pruned) == [
        site / "bin",
        site / "numpy" / "_core" / "tests",
        site / "numpy" / "tests",
        site / "pkg" / "test",
        site / "scipy" / "stats" / "tests",
    ]
    assert not any(path.exists() for path in removed)
    assert all(path.is_file() for path in kept)


def test_pruning_an_already_lean_folder_removes_nothing(tmp_path: Path) -> None:
    write(tmp_path / "pydantic" / "main.py")
    assert prune_installed_packages(tmp_path) == []
    assert (tmp_path / "pydantic" / "main.py").is_file()


def test_synthesis_with_bundling_stages_the_bundles(tmp_path: Path) -> None:
    """The CDK wiring: with bundling on, the staged assets are what the bundling functions build."""
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from infra.layer_bundling import function_code, package_layer_code

    runtime = next(runtime for runtime in lambda_.Runtime.ALL if runtime.name == PYTHON_RUNTIME)
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "Bundled")
    layer = lambda_.LayerVersion(
        stack, "Layer", code=package_layer_code(stack, DEPLOYMENT.package_layer, runtime.bundling_image)
    )
    spec = DEPLOYMENT.function("canary")
    lambda_.Function(
        stack,
        "Function",
        runtime=runtime,
        handler=spec.handler,
        code=function_code(stack, spec.code_dir, runtime.bundling_image),
        layers=[layer],
    )
    assembly = app.synth()
    manifest = json.loads(Path(assembly.directory, f"{stack.artifact_id}.assets.json").read_text())
    staged = [Path(assembly.directory, file["source"]["path"]) for file in manifest["files"].values()]
    layer_dir = next(path for path in staged if (path / "python").is_dir())
    code_dir = next(path for path in staged if (path / spec.module_file.name).is_file())
    assert layer_dir.parent == code_dir.parent == Path(assembly.directory)  # staged, not the sources
    assert [path.name for path in (layer_dir / "python").iterdir()] == [PACKAGE]
    assert sources(layer_dir / "python" / PACKAGE) == sources(SOURCE_PACKAGE)
    assert sources(code_dir) == sources(spec.code_dir)
    for tree in (layer_dir, code_dir):
        expected = {
            path.parent / "__pycache__" / f"{path.stem}.{RUNTIME_CACHE_TAG}.pyc"
            for path in tree.rglob("*.py")
        }
        assert bytecode(tree) == (expected if PYTHON else set())
