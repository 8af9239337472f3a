"""`GET /health`: one cheap read per dependency, run side by side, each timed and bounded.

A probe is any callable that returns when its dependency answered and raises when it did not. Whatever
a probe raises (an SDK error, a timeout, a refusal) is that dependency's failure, reported in its check
with `ok: false`; the report is then 503, never a 500, since the function itself is fine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from http import HTTPStatus
from typing import Literal

from pydantic import BaseModel, Field

Probe = Callable[[], object]
"""Reads its dependency once; returns if it answered, raises if not."""

MAX_DETAIL = 300


class CheckResult(BaseModel):
    ok: bool
    latency_ms: float = Field(
        ge=0, description="How long the probe took (the timeout when it did not answer)"
    )
    detail: str | None = Field(default=None, description="Why it failed: the error's type and message")


class HealthReport(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, CheckResult]

    @property
    def http_status(self) -> int:
        return HTTPStatus.OK if self.status == "ok" else HTTPStatus.SERVICE_UNAVAILABLE


def _timed(probe: Probe, clock: Callable[[], float]) -> CheckResult:
    started = clock()
    try:
        probe()
    except Exception as error:  # any failure of a probe is its dependency's, by definition
        detail = f"{type(error).__name__}: {error}"[:MAX_DETAIL]
        return CheckResult(ok=False, latency_ms=_ms(clock() - started), detail=detail)
    return CheckResult(ok=True, latency_ms=_ms(clock() - started))


def _ms(seconds: float) -> float:
    return round(max(seconds, 0.0) * 1000, 3)


def check_health(
    probes: Mapping[str, Probe], timeout_s: float, clock: Callable[[], float] = time.perf_counter
) -> HealthReport:
    """Every probe at once; one that has not answered within `timeout_s` fails (it is left to finish
    on its own, so a hung dependency cannot hold the reply past the timeout)."""
    executor = ThreadPoolExecutor(max_workers=max(1, len(probes)), thread_name_prefix="health")
    try:
        futures: dict[str, Future[CheckResult]] = {
            name: executor.submit(_timed, probe, clock) for name, probe in probes.items()
        }
        deadline = clock() + timeout_s
        checks = {}
        for name, future in futures.items():
            try:
                checks[name] = future.result(timeout=max(0.0, deadline - clock()))
            except FutureTimeout:
                detail = f"no answer within {timeout_s:g} s"
                checks[name] = CheckResult(ok=False, latency_ms=_ms(timeout_s), detail=detail)
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    status: Literal["ok", "unavailable"] = "ok" if all(c.ok for c in checks.values()) else "unavailable"
    return HealthReport(status=status, checks=checks)
