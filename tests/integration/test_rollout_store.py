"""The rollout claim on DynamoDB: only one running rollout per model, whoever asks first."""

from __future__ import annotations

import boto3
import pytest

from lambdaops.aws.rollout_store import DynamoRolloutStore
from lambdaops.core.errors import RolloutConflict
from lambdaops_tools.local.resources import LocalResources


def test_one_claim_per_model_and_only_its_holder_releases_it(aws: LocalResources) -> None:
    store = DynamoRolloutStore(boto3.client("dynamodb"), aws.table_name)
    store.claim("churn", "first")
    store.claim("fraud", "other-model")  # claims are per model
    with pytest.raises(RolloutConflict):
        store.claim("churn", "second")
    store.release("churn", "second")  # not the holder: the claim stays
    with pytest.raises(RolloutConflict):
        store.claim("churn", "third")
    store.release("churn", "first")
    store.claim("churn", "fourth")
