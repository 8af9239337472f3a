"""Reading a model or version that must exist: the lookups every use case shares."""

from __future__ import annotations

from lambdaops.core.errors import ModelNotFound, VersionNotFound
from lambdaops.core.semver import check_model_name, parse_version
from lambdaops.registry.schemas import VersionRecord
from lambdaops.registry.store import ModelState, RegistryStore


def require_model(store: RegistryStore, name: str) -> ModelState:
    state = store.get_model(check_model_name(name))
    if state is None:
        raise ModelNotFound(f"no model named '{name}'", model=name)
    return state


def require_version(store: RegistryStore, name: str, version: str) -> VersionRecord:
    parse_version(version)  # a malformed version is a 400 before the model is even looked up
    return require_version_of(store, require_model(store, name), version)


def require_version_of(store: RegistryStore, state: ModelState, version: str) -> VersionRecord:
    """A version of a model already read, so callers that need both read the model once."""
    name = state.record.name
    record = store.get_version(name, version)
    if record is None:
        raise VersionNotFound(f"model '{name}' has no version {version}", model=name, version=version)
    return record
