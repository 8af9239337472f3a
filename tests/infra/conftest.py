"""One synthesis per test session (per xdist worker), shared by every infra test.

Bundling is switched off through `aws:cdk:bundling-stacks`, so no test runs pip or Docker.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from lambdaops_tools.deployment import PROJECT_ROOT

if TYPE_CHECKING:
    from aws_cdk.assertions import Template
    from constructs import IConstruct

    from infra.stack import LambdaopsStack

# `infra` is not an installed package; the repo root makes it importable.
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))
# Set before aws_cdk starts the jsii runtime, which otherwise prints a Node end-of-life banner.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


PRELOAD_MODELS = "churn-classifier,fraud"
"""Passed as `-c lambdaops:preload-models=...` would be."""


@dataclass(frozen=True)
class Synthesized:
    """The synthesized stack, its template and cdk-nag's verdict, for tests to read."""

    stack: LambdaopsStack
    template: Template
    template_json: dict[str, Any]
    template_path: Path
    outdir: Path
    validation_failure: str | None
    """cdk-nag findings fail `app.synth()` after the template is written; kept for `test_nag`."""
    validation_report: dict[str, Any]
    function_ids: dict[str, str]
    """Function name (as declared) -> logical id."""
    layer_ids: dict[str, str]
    """Dependency set name, and `lambdaops`, -> logical id of its layer."""
    machine_ids: dict[str, str]
    """State machine name (as declared) -> logical id."""

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.template_json["Resources"].items()
            if resource["Type"] == resource_type
        }

    def role_statements(self, role_id: str) -> list[dict[str, Any]]:
        """Every statement of the inline policies attached to the role."""
        return [
            statement
            for policy in self.resources("AWS::IAM::Policy").values()
            if {"Ref": role_id} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]

    def role_acknowledgments(self, role_id: str) -> dict[str, str]:
        """Finding id -> reason, as written to the role's Metadata."""
        metadata = self.template_json["Resources"][role_id]["Metadata"]["cdk_nag"]
        return {rule["id"]: rule["reason"] for rule in metadata["rules_to_suppress"]}


FLAGS = {
    "waf": "true",
    "api_keys": "true",
    "alert_emails": "ops@example.com, ml-oncall@example.com",
    "alert_webhook": "https://hooks.example.com/lambdaops",
    "slack_workspace_id": "T0123ABCD",
    "slack_channel_id": "C0123ABCD",
}
"""Every optional feature on, as `cdk deploy -c waf=true -c api_keys=true ...` would pass them."""


def synthesize(outdir: Path, context: dict[str, Any]) -> Synthesized:
    """The checked stack synthesized with `context`, bundling off, cdk-nag's findings kept."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.stack import add_checked_stack

    app = cdk.App(outdir=str(outdir), context={"aws:cdk:bundling-stacks": [], **context})
    stack = add_checked_stack(app)
    try:
        app.synth()
        failure = None
    except RuntimeError as error:
        if "ValidationFailed" not in str(error):
            raise
        failure = str(error)
    template_path = outdir / stack.template_file
    template_json = json.loads(template_path.read_text())
    functions = stack.functions
    layers = {"lambdaops": functions.lambdaops_layer, **functions.dependency_layers}
    return Synthesized(
        stack=stack,
        template=Template.from_json(template_json),
        template_json=template_json,
        template_path=template_path,
        outdir=outdir,
        validation_failure=failure,
        validation_report=json.loads((outdir / "validation-report.json").read_text()),
        function_ids={name: _logical_id(fn) for name, fn in functions.functions.items()},
        layer_ids={name: _logical_id(layer) for name, layer in layers.items()},
        machine_ids={name: _logical_id(m) for name, m in stack.state_machines.machines.items()},
    )


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The default deployment: no optional feature switched on."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"), {"lambdaops:preload-models": PRELOAD_MODELS})


@pytest.fixture(scope="session")
def flagged(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The deployment with every optional feature (`FLAGS`) switched on."""
    return synthesize(tmp_path_factory.mktemp("cdk.out.flagged"), FLAGS)


def _logical_id(construct: IConstruct) -> str:
    import aws_cdk as cdk

    resource = construct.node.default_child
    assert isinstance(resource, cdk.CfnElement)
    return cdk.Stack.of(resource).get_logical_id(resource)


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> Template:
    return synthesized.template
