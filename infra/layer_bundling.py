"""Build a dependency layer with pip on the host, so synthesis never needs Docker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii

from lambdaops_tools.deployment import PYTHON_RUNTIME

# Wheels for the Lambda runtime's interpreter and CPU, whatever the host runs. pip does not widen a
# manylinux tag to older glibc versions, so name each one Lambda's Amazon Linux 2023 (glibc 2.34) runs:
# onnxruntime ships only manylinux_2_28 wheels, most others only manylinux2014.
PIP_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_34_x86_64")
PIP_PYTHON_VERSION = PYTHON_RUNTIME.removeprefix("python")


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


@jsii.implements(cdk.ILocalBundling)
class PipLayerBundling:
    """Installs a requirements file into `<output>/python`, the folder Lambda puts on `sys.path`."""

    def __init__(self, requirements: Path) -> None:
        self.requirements = requirements

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: Any) -> bool:
        """Always bundles locally; a failing pip raises rather than falling back to Docker."""
        target = str(Path(output_dir) / "python")
        subprocess.run(
            [sys.executable, "-m", "pip", *pip_install_args(str(self.requirements), target)], check=True
        )
        return True


def layer_bundling_options(requirements: Path, image: cdk.DockerImage) -> cdk.BundlingOptions:
    """Local pip bundling, with the same pip run in `image` as the Docker form CDK requires.

    The Docker command is part of the asset hash, so changing the pip arguments rebuilds the layer.
    """
    return cdk.BundlingOptions(
        image=image,
        local=PipLayerBundling(requirements),
        command=["pip", *pip_install_args(f"/asset-input/{requirements.name}", "/asset-output/python")],
    )
