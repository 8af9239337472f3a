"""How a CLI command ends when it cannot do what it was asked: one line on stderr naming the fix, and
the exit code (2 for what the command line got wrong, 1 for the rest; see `lambdaops_tools.cli`)."""

from __future__ import annotations

from lambdaops_tools.client import ApiError, AwsSetupMissing

USAGE = 2
FAILED = 1


class CommandError(Exception):
    """An everyday mistake, never a bug: shown as its one line, without a traceback."""

    def __init__(self, message: str, exit_code: int = FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def usage(message: str) -> CommandError:
    return CommandError(message, USAGE)


def explain(error: Exception) -> CommandError | None:
    """The everyday failures that are not the CLI's own: the API's error reply, AWS set-up and S3.
    None for anything else, which is a bug and keeps its traceback."""
    if isinstance(error, CommandError):
        return error
    if isinstance(error, ApiError):
        return CommandError(f"{error.code}: {error.message}")
    if isinstance(error, AwsSetupMissing):
        return CommandError(str(error))
    return _explain_aws(error)


def _explain_aws(error: Exception) -> CommandError | None:
    from boto3.exceptions import S3UploadFailedError
    from botocore import exceptions

    if isinstance(error, exceptions.NoCredentialsError):
        return CommandError(
            "no AWS credentials for the upload: run `aws configure` or `aws sso login`,"
            " or set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(error, exceptions.NoRegionError):
        return CommandError("no AWS region for the upload: set AWS_DEFAULT_REGION (or a profile's region)")
    if isinstance(error, exceptions.EndpointConnectionError):
        return CommandError(f"cannot reach S3 at {error.kwargs.get('endpoint_url')}: is the stack running?")
    if isinstance(error, exceptions.ClientError):
        problem = error.response.get("Error", {})
        return CommandError(f"S3 {problem.get('Code')}: {problem.get('Message')} (is --bucket right?)")
    if isinstance(error, S3UploadFailedError):
        return CommandError(f"{error} (is --bucket right?)")
    return None
