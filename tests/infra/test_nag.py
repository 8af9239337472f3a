"""cdk-nag's AwsSolutions pack passes, and every acknowledged finding says why."""

from __future__ import annotations

import json
from typing import Any

from tests.infra.conftest import Synthesized

MIN_REASON_LENGTH = 20


def acknowledgments(synthesized: Synthesized) -> list[tuple[str, dict[str, str]]]:
    """(logical id, rule) for every acknowledgment cdk-nag wrote into resource Metadata."""
    return [
        (logical_id, rule)
        for logical_id, resource in synthesized.template_json["Resources"].items()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]


def test_no_unacknowledged_aws_solutions_findings(synthesized: Synthesized) -> None:
    violations: list[dict[str, Any]] = [
        violation
        for report in synthesized.validation_report["pluginReports"]
        for violation in report["violations"]
    ]
    for violation in violations:
        paths = [construct["constructPath"] for construct in violation["violatingConstructs"]]
        print(f"{violation['ruleName']}: {paths}")
    assert violations == []
    assert synthesized.validation_failure is None


def test_no_error_annotations(synthesized: Synthesized) -> None:
    manifest = json.loads((synthesized.outdir / "manifest.json").read_text())
    metadata = manifest["artifacts"][synthesized.stack.artifact_id].get("metadata", {})
    errors = [
        (path, entry["data"])
        for path, entries in metadata.items()
        for entry in entries
        if entry["type"] == "aws:cdk:error"
    ]
    assert errors == []


def test_every_acknowledgment_gives_a_specific_reason(synthesized: Synthesized) -> None:
    found = acknowledgments(synthesized)
    assert found, "acknowledgments are written to Metadata (write_suppressions_to_cloud_formation)"
    for rule_id, reason in sorted({(rule["id"], rule["reason"]) for _, rule in found}):
        print(f"{rule_id}: {reason}")
    for logical_id, rule in found:
        assert rule["id"].startswith("AwsSolutions-"), (logical_id, rule)
        assert len(rule["reason"].strip()) >= MIN_REASON_LENGTH, (logical_id, rule)


def test_wildcard_acknowledgments_name_the_wildcard(synthesized: Synthesized) -> None:
    """IAM4/IAM5 are acknowledged per finding (`RuleId[finding]`), never for a whole resource."""
    for logical_id, rule in acknowledgments(synthesized):
        if rule["id"].startswith(("AwsSolutions-IAM4", "AwsSolutions-IAM5")):
            assert rule["id"].endswith("]") and "[" in rule["id"], (logical_id, rule)
