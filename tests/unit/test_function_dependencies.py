"""Each function imports only what its layers ship: drift never onnxruntime, predict never scipy."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lambdaops_tools.deployment import DEPLOYMENT, FunctionSpec
from lambdaops_tools.local.resources import LocalResources

# Which packages each dependency set provides that another one must not be assumed to.
EXCLUSIVE = {"onnx": ("onnxruntime",), "stats": ("scipy",)}

PROBE = """
import importlib.util, json, sys
for blocked in json.loads(sys.argv[2]):
    sys.modules[blocked] = None  # `import blocked` now raises ImportError
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
"""


@pytest.mark.parametrize("spec", DEPLOYMENT.functions, ids=lambda spec: spec.name)
def test_a_function_imports_without_the_packages_its_layers_lack(
    spec: FunctionSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    lacking = [
        package
        for dependency_set, packages in EXCLUSIVE.items()
        if dependency_set not in spec.dependency_sets
        for package in packages
    ]
    # Only the declared environment: a setting its grants forget must fail the import, as in Lambda.
    for name in list(os.environ):
        if name.startswith("LAMBDAOPS_"):
            monkeypatch.delenv(name)
    for name, value in LocalResources.declared().environment(spec).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(spec.module_file), json.dumps(lacking)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
