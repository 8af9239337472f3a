"""The model registry: models, their immutable versions, stages, artifacts and the audit history."""
