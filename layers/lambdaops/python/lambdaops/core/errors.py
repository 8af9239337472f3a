"""Domain errors: each carries its HTTP status and a stable machine-readable code.

`lambdaops.runtime.http` maps them to responses in one place; nothing else formats errors.
"""

from __future__ import annotations

from typing import Any


class LambdaopsError(Exception):
    status: int = 400
    code: str = "BadRequest"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidInput(LambdaopsError):
    status, code = 400, "InvalidInput"


class ModelNotFound(LambdaopsError):
    status, code = 404, "ModelNotFound"


class VersionNotFound(LambdaopsError):
    status, code = 404, "VersionNotFound"


class ModelAlreadyExists(LambdaopsError):
    status, code = 409, "ModelAlreadyExists"


class VersionAlreadyExists(LambdaopsError):
    status, code = 409, "VersionAlreadyExists"


class IllegalTransition(LambdaopsError):
    status, code = 409, "IllegalTransition"


class ConcurrentModification(LambdaopsError):
    """Another writer changed the model between our read and our transaction."""

    status, code = 409, "ConcurrentModification"


class NothingToRollBack(LambdaopsError):
    status, code = 409, "NothingToRollBack"


class PolicyViolation(LambdaopsError):
    status, code = 422, "PolicyViolation"


class ArtifactInvalid(LambdaopsError):
    """The artifact is missing, outside the bucket, not ONNX, or disagrees with the input schema."""

    status, code = 422, "ArtifactInvalid"


class ArtifactTooLarge(LambdaopsError):
    status, code = 413, "ArtifactTooLarge"


class ArtifactIntegrityError(LambdaopsError):
    """The stored bytes no longer hash to the recorded sha256."""

    status, code = 422, "ArtifactIntegrityError"


class TrafficSplitInvalid(LambdaopsError):
    """Weights that do not sum to 100, or a route to an unknown or archived version."""

    status, code = 422, "InvalidTrafficSplit"


class NoProductionVersion(LambdaopsError):
    """A prediction named no version and the model has nothing in production."""

    status, code = 409, "NoProductionVersion"


class TooManyInstances(LambdaopsError):
    status, code = 413, "TooManyInstances"


class InferenceFailed(LambdaopsError):
    """onnxruntime raised while running a loaded model: the version is broken, not the request."""

    status, code = 500, "InferenceFailed"


class RolloutConflict(LambdaopsError):
    """A canary needs a staging candidate, a production incumbent, and no rollout already running."""

    status, code = 409, "RolloutConflict"


class RolloutNotFound(LambdaopsError):
    status, code = 404, "RolloutNotFound"


class BaselineMissing(LambdaopsError):
    """A drift check needs the version's baseline, and none has been built."""

    status, code = 409, "BaselineMissing"


class DataUnreadable(LambdaopsError):
    """The data to profile or check is missing, outside the bucket, or not CSV / JSON Lines."""

    status, code = 422, "DataUnreadable"


class DataTooLarge(LambdaopsError):
    status, code = 413, "DataTooLarge"


class DatasetNotFound(LambdaopsError):
    """The dataset folder, or one of the files a run needs, is not in the bucket."""

    status, code = 404, "DatasetNotFound"


class DatasetInvalid(LambdaopsError):
    """The dataset cannot be trained on as it is: a manifest that is not JSON, a missing column, no rows."""

    status, code = 422, "DatasetInvalid"


class RunNotFound(LambdaopsError):
    status, code = 404, "RunNotFound"


class RunAlreadyExists(LambdaopsError):
    status, code = 409, "RunAlreadyExists"


class TrainingFailed(LambdaopsError):
    """A step of the training pipeline could not do its work (the run records it and fails)."""

    status, code = 422, "TrainingFailed"


class DependencyUnavailable(LambdaopsError):
    """503: a service the API depends on is throttling or unreachable; nothing was changed, retry.

    `details.dependency` names it; `retry_after_seconds` becomes the reply's `Retry-After` header.
    """

    status, code = 503, "ServiceUnavailable"

    def __init__(self, dependency: str, retry_after_seconds: int = 1) -> None:
        super().__init__(
            f"{dependency} is busy or unavailable; retry in {retry_after_seconds} s",
            dependency=dependency,
            retry_after_seconds=retry_after_seconds,
        )
        self.retry_after_seconds = retry_after_seconds
