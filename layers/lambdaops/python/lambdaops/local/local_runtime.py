"""The one place lambdaops fills moto's gaps: here, running Lambda code in-process.

moto cannot execute Lambda code without Docker (see shared/local-aws-notes.md), so the local stack
loads each function from its declared code folder and handler, with its declared environment, and
calls it directly. A function's environment is applied while its module is imported (where
Powertools and `Settings` read it); resource names are the same for every function, so concurrent
invocations in threads need no per-call environment switching.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from lambdaops.deployment import FunctionSpec

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
_import_lock = threading.Lock()


@dataclass
class LocalLambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_s * 1000


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


class LocalFunction:
    """A deployed function's handler, loaded once, invoked like Lambda would."""

    def __init__(self, spec: FunctionSpec, environment: Mapping[str, str]) -> None:
        self.spec = spec
        self.environment = dict(environment)
        self._module: ModuleType | None = None

    def module(self) -> ModuleType:
        """The function's handler module, imported once with the function's environment."""
        with _import_lock:
            if self._module is None:
                module_name = f"lambdaops_function_{self.spec.name}"
                location = importlib.util.spec_from_file_location(module_name, self.spec.module_file)
                if location is None or location.loader is None:
                    raise ImportError(f"cannot load {self.spec.module_file}")
                module = importlib.util.module_from_spec(location)
                sys.modules[module_name] = module  # annotations resolve through sys.modules
                with _environment(self.environment):
                    location.loader.exec_module(module)
                self._module = module
            return self._module

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        context = LocalLambdaContext(self.spec.name, self.spec.memory_mb, self.spec.timeout_s)
        handler: Handler = getattr(self.module(), self.spec.handler_attribute)
        return handler(event, context)
