"""boto3 clients, created lazily once per process and shared by the adapters.

A lock guards creation because boto3's session is not thread-safe and the local stack serves
concurrent requests from threads of one process.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

_lock = threading.Lock()
_clients: dict[str, Any] = {}
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=32)


def client(service: str) -> Any:
    with _lock:
        if service not in _clients:
            _clients[service] = boto3.session.Session().client(service, config=_CONFIG)
        return _clients[service]


def reset_clients() -> None:
    """Forget cached clients (tests that swap endpoints or moto mocks)."""
    with _lock:
        _clients.clear()
