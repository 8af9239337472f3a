"""Build a dependency layer with pip on the host, so synthesis never needs Docker."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii

from lambdaops.deployment import PYTHON_RUNTIME

# Wheels for the Lambda runtime's interpreter and CPU, whatever the host runs.
PIP_PLATFORM = "manylinux2014_x86_64"
PIP_PYTHON_VERSION = PYTHON_RUNTIME.removeprefix("python")


@jsii.implements(cdk.ILocalBundling)
class PipLayerBundling:
    """Installs a requirements file into `<output>/python`, the folder Lambda puts on `sys.path`."""

    def __init__(self, requirements: Path) -> None:
        self.requirements = requirements

    def pip_command(self, output_dir: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--requirement",
            str(self.requirements),
            "--target",
            str(Path(output_dir) / "python"),
            "--platform",
            PIP_PLATFORM,
            "--implementation",
            "cp",
            "--python-version",
            PIP_PYTHON_VERSION,
            "--only-binary=:all:",
        ]

    def try_bundle(
        self,
        output_dir: str,
        *,
        image: cdk.DockerImage,
        command: Sequence[str] | None = None,
        environment: Mapping[str, str] | None = None,
        **_options: Any,
    ) -> bool:
        """Bundle on the host; raising (not returning False) keeps a failed pip from falling back to Docker."""
        subprocess.run(self.pip_command(output_dir), check=True)
        return True


def layer_bundling_options(requirements: Path, image: cdk.DockerImage) -> cdk.BundlingOptions:
    """Local pip first; the Docker `image` (the runtime's build image) only if local bundling is removed."""
    return cdk.BundlingOptions(
        image=image,
        local=PipLayerBundling(requirements),
        command=[
            "bash",
            "-c",
            f"pip install --requirement {requirements.name} --target /asset-output/python",
        ],
    )
