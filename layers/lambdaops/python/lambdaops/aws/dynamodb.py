"""What every DynamoDB adapter shares: attribute values, and what a failed condition means."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def av(value: Any) -> dict[str, Any]:
    """A Python value as a DynamoDB attribute value."""
    return _serializer.serialize(value)  # type: ignore[no-any-return]


def to_item(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {key: av(value) for key, value in values.items()}


def plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain Python values."""
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


@contextmanager
def on_condition_failure(refusal: Callable[[], Exception] | None) -> Iterator[None]:
    """Raise `refusal()` when the write's condition did not hold (ignore it when None); other errors pass."""
    try:
        yield
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        if refusal is not None:
            raise refusal() from error


def cancellation_reasons(error: ClientError) -> list[str | None] | None:
    """Per write, why a transaction was cancelled (`ConditionalCheckFailed`, `None`...); None when the
    error is not a cancelled transaction."""
    if error.response["Error"]["Code"] != "TransactionCanceledException":
        return None
    return [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
