"""Which SDK errors are a dependency's passing fault, and which dependency: no AWS, no network (a client's
call is answered by a before-call handler, before anything is signed or sent)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from lambdaops.aws.faults import is_transient


def client_error(code: str, status: int = 400, **response: Any) -> ClientError:
    reply = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError({**reply, **response}, "Operation")  # type: ignore[arg-type]


def raised_by(service: str, operation: str, event: str, answer: Exception | dict[str, Any]) -> Exception:
    """What a real client of `service` raises when its call raises `answer`, or is answered with it."""
    client = botocore.session.get_session().create_client(
        service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )

    def respond(**_: Any) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return SimpleNamespace(status_code=answer["ResponseMetadata"]["HTTPStatusCode"], headers={}), answer

    client.meta.events.register(f"before-call.{event}", respond)
    with pytest.raises((ClientError, BotoCoreError)) as raised:
        getattr(client, operation)(**PARAMS[operation])
    return raised.value


PARAMS: dict[str, dict[str, Any]] = {
    "transact_write_items": {
        "TransactItems": [
            {
                "ConditionCheck": {
                    "TableName": "t",
                    "Key": {"PK": {"S": "k"}},
                    "ConditionExpression": "attribute_exists(PK)",
                }
            }
        ]
    },
    "get_object": {"Bucket": "b", "Key": "k"},
    "start_execution": {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:m"},
    "publish": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": "m"},
    "put_events": {"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}"}]},
    "describe_training_job": {"TrainingJobName": "j"},
}


def reply(code: str, status: int) -> dict[str, Any]:
    return {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}


@pytest.mark.parametrize(
    "code",
    [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "Throttling",
        "TooManyRequestsException",
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "InternalServerError",
    ],
)
def test_throttling_and_outage_codes_are_transient(code: str) -> None:
    assert is_transient(client_error(code)) is not None


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_any_reply_of_a_retryable_status_is_transient(status: int) -> None:
    assert is_transient(client_error("SomethingNew", status)) is not None


@pytest.mark.parametrize(
    "code",
    [
        "ConditionalCheckFailedException",
        "ValidationException",
        "AccessDenied",
        "NoSuchKey",
        "ResourceNotFoundException",
    ],
)
def test_refusals_and_bugs_are_not_transient(code: str) -> None:
    assert is_transient(client_error(code)) is None


def test_a_transaction_is_transient_only_when_dynamodb_cancelled_it_for_throttling() -> None:
    def cancelled(*reasons: str) -> ClientError:
        return client_error(
            "TransactionCanceledException", CancellationReasons=[{"Code": reason} for reason in reasons]
        )

    assert is_transient(cancelled("None", "ThrottlingError")) is not None
    assert is_transient(cancelled("ProvisionedThroughputExceeded")) is not None
    assert is_transient(cancelled("ConditionalCheckFailed", "None")) is None
    assert is_transient(cancelled("TransactionConflict")) is None


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
        ConnectTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    ],
)
def test_network_failures_are_transient_and_named_by_their_endpoint(error: Exception) -> None:
    assert is_transient(error) == "dynamodb"


@pytest.mark.parametrize(
    "error", [NoCredentialsError(), ParamValidationError(report="bad"), ValueError("not the SDK's")]
)
def test_other_sdk_errors_and_other_exceptions_are_not_transient(error: Exception) -> None:
    assert is_transient(error) is None


@pytest.mark.parametrize(
    ("service", "operation", "event", "code", "status"),
    [
        ("dynamodb", "transact_write_items", "dynamodb.TransactWriteItems", "ThrottlingException", 400),
        ("s3", "get_object", "s3.GetObject", "SlowDown", 503),
        ("stepfunctions", "start_execution", "sfn.StartExecution", "ThrottlingException", 400),
        ("sns", "publish", "sns.Publish", "Throttling", 400),
        ("events", "put_events", "eventbridge.PutEvents", "ThrottlingException", 400),
        ("sagemaker", "describe_training_job", "sagemaker.DescribeTrainingJob", "ThrottlingException", 400),
    ],
)
def test_the_dependency_is_the_service_whose_client_raised(
    service: str, operation: str, event: str, code: str, status: int
) -> None:
    assert is_transient(raised_by(service, operation, event, reply(code, status))) == service


def test_a_network_failure_inside_a_call_is_named_by_the_client_not_the_url() -> None:
    error = EndpointConnectionError(endpoint_url="http://127.0.0.1:4566")
    assert is_transient(raised_by("s3", "get_object", "s3.GetObject", error)) == "s3"
