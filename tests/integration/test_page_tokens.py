"""Page tokens are bound to the listing that issued them; any other is a 400 on `next_token`, not a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambdaops.aws.registry_store import PageListing
from lambdaops.core.errors import InvalidInput
from lambdaops_tools.demo.sample_models import TrainedModel

from .conftest import Api, deploy_without_upload_trigger
from .training_data import write_dataset

VERSIONS = PageListing(
    "versions",
    {"model": "churn", "stage": None},
    fixed={"PK": "MODEL#churn"},
    prefixed={"SK": "VERSION#"},
)
KEY = {"PK": {"S": "MODEL#churn"}, "SK": {"S": "VERSION#000000001.000000000.000000000"}}


def b64(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def forged(document: Any) -> str:
    return b64(json.dumps(document))


def test_a_token_round_trips_its_key() -> None:
    token = VERSIONS.token(KEY)
    assert token.isascii() and "=" not in token
    assert VERSIONS.start_key(token) == KEY


@given(st.text(max_size=60))
def test_any_version_key_of_the_listing_round_trips(suffix: str) -> None:
    key = {"PK": {"S": "MODEL#churn"}, "SK": {"S": f"VERSION#{suffix}"}}
    assert VERSIONS.start_key(VERSIONS.token(key)) == key


def refused(listing: PageListing, token: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        listing.start_key(token)
    assert caught.value.details == {"field": "next_token"}
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "token",
    [
        "",
        "!!!",
        "a",
        "not a token",
        "ünïcode",
        b64("not json"),
        b64("[1, 2]"),
        b64("null"),
        b64(b"\xff\xfe\xfd"),
        b64("[" * 2_000),  # json raises RecursionError: still a 400
        forged(KEY),  # a token from before tokens were bound to their listing
        forged({"v": 1, "listing": "versions", "key": KEY}),
        forged({"v": 2, "listing": "versions", "scope": "x", "key": KEY}),
        VERSIONS.token(KEY) + "x" * 2_100,
    ],
)
def test_garbage_and_old_tokens_are_invalid_input(token: str) -> None:
    refused(VERSIONS, token)


@pytest.mark.parametrize(
    "key",
    [
        {},
        {"PK": {"S": "MODEL#churn"}},
        KEY | {"GSI1PK": {"S": "MODELS"}},
        {"PK": {"S": "MODEL#fraud"}, "SK": KEY["SK"]},
        {"PK": KEY["PK"], "SK": {"S": "HISTORY#000000000001#00"}},
        {"PK": KEY["PK"], "SK": {"N": "5"}},
        {"PK": KEY["PK"], "SK": {"S": 5}},
        {"PK": KEY["PK"], "SK": {"S": "VERSION#1", "N": "1"}},
        {"PK": KEY["PK"], "SK": "VERSION#1"},
    ],
)
def test_a_key_of_another_shape_or_partition_is_invalid_input(key: dict[str, Any]) -> None:
    refused(VERSIONS, VERSIONS.token(key))


@pytest.mark.parametrize(
    "other",
    [
        PageListing("versions", {"model": "churn", "stage": "staging"}, VERSIONS.fixed, VERSIONS.prefixed),
        PageListing("versions", {"model": "fraud", "stage": None}, VERSIONS.fixed, VERSIONS.prefixed),
        PageListing("models", {"model": "churn", "stage": None}, VERSIONS.fixed, VERSIONS.prefixed),
    ],
)
def test_a_token_of_another_listing_or_other_filters_is_invalid_input(other: PageListing) -> None:
    refused(VERSIONS, other.token(KEY))


def assert_refused(reply: tuple[int, Any]) -> None:
    status, body = reply
    assert (status, body["error"]["code"]) == (400, "InvalidInput"), body
    assert body["error"]["details"]["field"] == "next_token"


@pytest.fixture
def models(api: Api, trained: TrainedModel) -> Api:
    """Models `churn` and `fraud`, three versions each."""
    for name in ("churn", "fraud"):
        assert api.call("POST", "/models", {"name": name})[0] == 201
        for version in ("1.0.0", "1.1.0", "1.2.0"):
            assert api.register(name, version, trained)[0] == 201
    return api


def next_token(api: Api, path: str) -> str:
    status, page = api.call("GET", path)
    assert status == 200 and page["next_token"], page
    return str(page["next_token"])


@pytest.mark.parametrize(
    "key",
    [
        {"PK": {"S": "MODEL#churn"}},  # the base table's key on the models index
        {"GSI1PK": {"S": "MODELS"}, "GSI1SK": {"S": "churn"}},
        {"PK": {"S": "MODEL#churn"}, "SK": {"S": "META"}, "GSI1PK": {"S": "RUNS"}, "GSI1SK": {"S": "x"}},
    ],
)
def test_well_formed_old_tokens_of_the_wrong_key_shape_are_a_400_not_a_500(
    models: Api, key: dict[str, Any]
) -> None:
    assert_refused(models.call("GET", f"/models?next_token={forged(key)}"))
    assert_refused(models.call("GET", f"/models/churn/versions?next_token={forged(key)}"))


def test_a_versions_token_only_resumes_its_own_models_listing(models: Api) -> None:
    token = next_token(models, "/models/churn/versions?limit=1")
    assert_refused(models.call("GET", f"/models/fraud/versions?limit=1&next_token={token}"))
    assert_refused(models.call("GET", f"/models/churn/versions?stage=none&limit=1&next_token={token}"))
    assert_refused(models.call("GET", f"/models?limit=1&next_token={token}"))
    status, page = models.call("GET", f"/models/churn/versions?limit=1&next_token={token}")
    assert (status, [v["version"] for v in page["items"]]) == (200, ["1.1.0"])


def test_a_filtered_versions_token_needs_the_same_filters(models: Api) -> None:
    token = next_token(models, "/models/churn/versions?stage=none&limit=1")
    assert_refused(models.call("GET", f"/models/churn/versions?stage=staging&limit=1&next_token={token}"))
    assert_refused(models.call("GET", f"/models/churn/versions?limit=1&next_token={token}"))
    status, page = models.call("GET", f"/models/churn/versions?stage=none&limit=1&next_token={token}")
    assert (status, [v["version"] for v in page["items"]]) == (200, ["1.1.0"])


def test_a_models_token_is_refused_by_the_versions_and_runs_listings(models: Api) -> None:
    token = next_token(models, "/models?limit=1")
    assert_refused(models.call("GET", f"/models/churn/versions?next_token={token}"))
    assert_refused(models.call("GET", f"/training?next_token={token}"))
    status, page = models.call("GET", f"/models?limit=1&next_token={token}")
    assert (status, [m["name"] for m in page["items"]]) == (200, ["fraud"])


def test_a_runs_token_needs_the_same_model_and_status_filters(models: Api) -> None:
    deploy_without_upload_trigger(models.resources)
    manifest = {"label": "churned", "hyperparameters": {"epochs": 4, "learning_rate": 0.01}}
    for model in ("churn", "fraud", "churn", "fraud"):
        uri = write_dataset(models.resources, model, manifest=manifest)
        assert models.call("POST", "/training", {"model": model, "dataset_uri": uri})[0] == 202
    token = next_token(models, "/training?model=churn&limit=1")
    assert_refused(models.call("GET", f"/training?model=fraud&limit=1&next_token={token}"))
    assert_refused(models.call("GET", f"/training?limit=1&next_token={token}"))
    assert_refused(models.call("GET", f"/training?model=churn&status=failed&limit=1&next_token={token}"))
    assert_refused(models.call("GET", f"/models/churn/versions?next_token={token}"))
    status, page = models.call("GET", f"/training?model=churn&limit=1&next_token={token}")
    assert (status, [run["model"] for run in page["items"]]) == (200, ["churn"])
