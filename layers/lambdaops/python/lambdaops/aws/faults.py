"""Which AWS SDK errors are a dependency's passing fault (throttled, unavailable, unreachable), not a bug.

`lambdaops.runtime.http` answers those 503 with a retry hint; it reaches botocore's exception classes
only through this module.
"""

from __future__ import annotations

from types import TracebackType
from urllib.parse import urlsplit

from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

__all__ = ["SDK_ERRORS", "BotoCoreError", "ClientError", "is_transient"]

SDK_ERRORS: tuple[type[Exception], ...] = (ClientError, BotoCoreError)
"""Everything boto3 raises about a call: what an exception handler registers for."""

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",  # DynamoDB
        "ThrottlingException",  # DynamoDB, Step Functions, SageMaker, EventBridge
        "RequestLimitExceeded",  # DynamoDB (account level)
        "Throttling",  # SNS, CloudWatch
        "ThrottledException",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",  # S3
        "BandwidthLimitExceeded",
    }
)
UNAVAILABLE_CODES = frozenset(
    {
        "ServiceUnavailable",  # S3
        "ServiceUnavailableException",
        "InternalError",  # S3
        "InternalFailure",
        "InternalServerError",  # DynamoDB
        "InternalServerException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
THROTTLED_TRANSACTION_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded"})
"""Why DynamoDB cancels a transaction it throttled (per write, in `CancellationReasons`)."""


def is_transient(error: BaseException) -> str | None:
    """The dependency's name (botocore's service name: `dynamodb`, `s3`, `stepfunctions`, ...) when
    `error` is a throttle, an outage or a network failure worth retrying; None for anything else."""
    if isinstance(error, ClientError):
        if not _transient_reply(error):
            return None
    elif not isinstance(error, ConnectionError | HTTPClientError):  # a timeout or a dropped connection
        return None
    return _service_name(error)


def _transient_reply(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    if code in THROTTLING_CODES or code in UNAVAILABLE_CODES:
        return True
    if code == "TransactionCanceledException":
        reasons = {reason.get("Code") for reason in error.response.get("CancellationReasons", [])}
        return bool(reasons & THROTTLED_TRANSACTION_REASONS)
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    return status == 429 or status >= 500


def _service_name(error: BaseException) -> str:
    # Neither ClientError nor BotoCoreError says which service raised it; the client whose call raised
    # it is on the traceback, in botocore's `_make_api_call` frame.
    frame: TracebackType | None = error.__traceback__
    service = None
    while frame is not None:
        caller = frame.tb_frame.f_locals.get("self")
        if frame.tb_frame.f_code.co_name == "_make_api_call" and isinstance(caller, BaseClient):
            service = caller.meta.service_model.service_name
        frame = frame.tb_next
    if service:
        return str(service)
    endpoint = getattr(error, "kwargs", {}).get("endpoint_url")
    host = urlsplit(endpoint).hostname if isinstance(endpoint, str) else None
    return host.split(".")[0] if host else "aws"
