"""Grants: their environments merge (and must agree), their wildcards carry reasons, and each function's
declared environment is exactly what its settings read."""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, fields

import pytest
from pydantic_settings import BaseSettings

from lambdaops.runtime.settings import (
    CanarySettings,
    DriftSettings,
    OperationsSettings,
    PipelineSettings,
    PredictSettings,
    PromotionSettings,
    RegistrySettings,
    TrainingSettings,
)
from lambdaops_tools import grants
from lambdaops_tools.deployment import DEPLOYMENT, FunctionSpec, function_environment
from lambdaops_tools.grants import (
    Grant,
    GrantTargets,
    PublishesAlerts,
    PublishesEvents,
    ReadsArtifacts,
    ReadsPredictionMetrics,
    ReadsTable,
    Statement,
    WritesCaptures,
    WritesTable,
    merge_environments,
)
from lambdaops_tools.local.resources import LocalResources

TARGETS = GrantTargets(**{field.name: f"<{field.name}>" for field in fields(GrantTargets)})
LOCAL = LocalResources.declared()
SETTINGS: dict[str, type[BaseSettings]] = {
    "registry": RegistrySettings,
    "promotion": PromotionSettings,
    "predict": PredictSettings,
    "canary": CanarySettings,
    "drift": DriftSettings,
    "training": TrainingSettings,
    "pipeline": PipelineSettings,
    "operations": OperationsSettings,
}
"""The settings model each function's handler parses its environment into."""


def spec_with(*declared: Grant) -> FunctionSpec:
    return FunctionSpec(
        name="probe",
        handler="handler.lambda_handler",
        dependency_sets=(),
        memory_mb=128,
        timeout_s=3,
        grants=declared,
    )


def test_parts_that_agree_merge_into_one_environment() -> None:
    merged = merge_environments([("a", {"X": "1", "Y": "2"}), ("b", {"Y": "2", "Z": "3"})])
    assert merged == {"X": "1", "Y": "2", "Z": "3"}


def test_parts_that_disagree_on_a_variable_are_refused_naming_both() -> None:
    with pytest.raises(ValueError, match=r"Y is '2' for a but '3' for b"):
        merge_environments([("a", {"Y": "2"}), ("b", {"Y": "3"})])


def test_grants_that_locate_the_same_resource_set_its_variable_once() -> None:
    environment = function_environment(spec_with(ReadsArtifacts(), WritesCaptures()), TARGETS)
    assert environment["LAMBDAOPS_BUCKET_NAME"] == "<bucket_name>"


def test_grants_that_set_a_variable_differently_are_refused() -> None:
    spec = spec_with(PublishesEvents(source="lambdaops.registry"), PublishesEvents(source="elsewhere"))
    with pytest.raises(ValueError, match="LAMBDAOPS_EVENT_SOURCE"):
        function_environment(spec, TARGETS)


def test_a_grant_may_not_override_what_every_function_sets() -> None:
    @dataclass(frozen=True)
    class RenamesTheService(Grant):
        """A test grant claiming another service name."""

        def statements(self, targets: GrantTargets) -> tuple[Statement, ...]:
            return ()

        def environment(self, targets: GrantTargets) -> dict[str, str]:
            return {"POWERTOOLS_SERVICE_NAME": "someone-else"}

    with pytest.raises(ValueError, match="POWERTOOLS_SERVICE_NAME"):
        function_environment(spec_with(RenamesTheService()), TARGETS)


def test_a_new_capability_is_one_class() -> None:
    @dataclass(frozen=True)
    class ReadsSecrets(Grant):
        """A test grant: statements, environment and reason in one class."""

        def statements(self, targets: GrantTargets) -> tuple[Statement, ...]:
            return (Statement(("secretsmanager:GetSecretValue",), ("arn:secret:lambdaops/*",), "per model"),)

        def environment(self, targets: GrantTargets) -> dict[str, str]:
            return {"LAMBDAOPS_SECRET_PREFIX": "lambdaops/"}

    spec = spec_with(ReadsTable(), ReadsSecrets())
    assert function_environment(spec, TARGETS)["LAMBDAOPS_SECRET_PREFIX"] == "lambdaops/"
    assert spec.declares(ReadsSecrets) and not spec.declares(WritesTable)


@pytest.mark.parametrize("wildcard", [{"actions": ("kms:GenerateDataKey*",)}, {"resources": ("arn:x/*",)}])
def test_a_statement_with_a_wildcard_needs_a_reason(wildcard: dict[str, tuple[str, ...]]) -> None:
    parts = {"actions": ("s3:GetObject",), "resources": ("arn:x",)} | wildcard
    with pytest.raises(ValueError, match="needs a reason"):
        Statement(**parts)
    assert Statement(**parts, reason="because").has_wildcard
    assert not Statement(("s3:GetObject",), ("arn:x",)).has_wildcard


def test_every_grant_class_says_why_it_exists() -> None:
    classes = [cls for _, cls in inspect.getmembers(grants, inspect.isclass) if issubclass(cls, Grant)]
    assert len(classes) >= 9
    for cls in classes:
        # A dataclass without a docstring gets its signature as one.
        assert cls.__doc__ and not cls.__doc__.startswith(f"{cls.__name__}("), cls.__name__


def test_a_table_writer_reads_too_and_writes_the_table_only() -> None:
    assert isinstance(WritesTable(), ReadsTable)
    reads, writes = ReadsTable().statements(TARGETS), WritesTable().statements(TARGETS)
    assert writes[: len(reads)] == reads
    (extra,) = writes[len(reads) :]
    assert extra.resources == ("<table_arn>",)
    assert set(extra.actions) == {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
    }


def test_publishing_alerts_uses_the_topics_key_only_where_it_has_one() -> None:
    encrypted = PublishesAlerts().statements(TARGETS)
    assert [s.actions for s in encrypted] == [("sns:Publish",), ("kms:Decrypt", "kms:GenerateDataKey*")]
    assert encrypted[1].resources == ("<alerts_key_arn>",)
    assert [s.actions for s in PublishesAlerts().statements(LOCAL.grant_targets)] == [("sns:Publish",)]


def test_the_canary_reads_the_predict_functions_metrics() -> None:
    (grant,) = [g for g in DEPLOYMENT.function("canary").grants if isinstance(g, ReadsPredictionMetrics)]
    assert grant.service == DEPLOYMENT.function("predict").service_name
    environment = LOCAL.environment(DEPLOYMENT.function("canary"))
    assert environment["LAMBDAOPS_PREDICTION_SERVICE"] == "lambdaops-predict"


def test_every_function_declares_its_settings_model() -> None:
    assert set(SETTINGS) == {spec.name for spec in DEPLOYMENT.functions}
    for spec in DEPLOYMENT.functions:
        source = spec.module_file.read_text()
        assert f"settings = {SETTINGS[spec.name].__name__}()" in source, spec.name


def setting_variables(model: type[BaseSettings]) -> tuple[set[str], set[str]]:
    """(every variable the model reads, those it requires)."""
    prefix = model.model_config.get("env_prefix", "")
    every = {f"{prefix}{name}".upper(): field for name, field in model.model_fields.items()}
    return set(every), {name for name, field in every.items() if field.is_required()}


@pytest.mark.parametrize("spec", DEPLOYMENT.functions, ids=lambda spec: spec.name)
def test_a_function_gets_exactly_the_variables_its_settings_read(spec: FunctionSpec) -> None:
    declared = {name for name in LOCAL.environment(spec) if name.startswith("LAMBDAOPS_")}
    read, required = setting_variables(SETTINGS[spec.name])
    assert required <= declared, sorted(required - declared)
    assert declared <= read, sorted(declared - read)


@pytest.mark.parametrize("spec", DEPLOYMENT.functions, ids=lambda spec: spec.name)
def test_a_functions_settings_parse_from_its_declared_environment_alone(
    spec: FunctionSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("LAMBDAOPS_"):
            monkeypatch.delenv(name)
    environment = LOCAL.environment(spec)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = SETTINGS[spec.name]()
    assert settings.model_dump()["table_name"] == environment["LAMBDAOPS_TABLE_NAME"]


def test_only_the_predict_function_takes_the_models_to_preload_and_from_context() -> None:
    predict = DEPLOYMENT.function("predict")
    assert LOCAL.environment(predict)["LAMBDAOPS_PRELOAD_MODELS"] == ""
    chosen = function_environment(predict, TARGETS, {"lambdaops:preload-models": "churn,fraud"})
    assert chosen["LAMBDAOPS_PRELOAD_MODELS"] == "churn,fraud"
    for spec in DEPLOYMENT.functions:
        if spec is not predict:
            assert "LAMBDAOPS_PRELOAD_MODELS" not in LOCAL.environment(spec), spec.name


def test_the_predict_function_is_not_told_the_event_bus() -> None:
    environment = LOCAL.environment(DEPLOYMENT.function("predict"))
    assert not DEPLOYMENT.function("predict").declares(PublishesEvents)
    assert "LAMBDAOPS_EVENT_BUS_NAME" not in environment
    assert "LAMBDAOPS_EVENT_SOURCE" not in environment
