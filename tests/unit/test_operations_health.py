"""`GET /health`'s checks and the predict function's readiness, without AWS."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from lambdaops.operations.health import check_health
from lambdaops.operations.readiness import NOT_WARMED, preload_readiness


def answers() -> None:
    return None


def refuses() -> None:
    raise PermissionError("AccessDenied: s3:ListBucket on lambdaops-artifacts")


def test_every_dependency_answering_is_ok_each_with_its_latency() -> None:
    report = check_health({"table": answers, "bucket": answers}, timeout_s=1)
    assert report.status == "ok" and report.http_status == 200
    assert set(report.checks) == {"table", "bucket"}
    assert all(
        check.ok and check.latency_ms >= 0 and check.detail is None for check in report.checks.values()
    )


def test_one_failing_dependency_is_503_naming_it_and_its_error() -> None:
    report = check_health({"table": answers, "bucket": refuses}, timeout_s=1)
    assert report.status == "unavailable" and report.http_status == 503
    assert report.checks["table"].ok
    assert not report.checks["bucket"].ok
    assert (
        report.checks["bucket"].detail
        == "PermissionError: AccessDenied: s3:ListBucket on lambdaops-artifacts"
    )


def test_checks_run_side_by_side_and_a_hung_one_fails_at_the_timeout() -> None:
    release = threading.Event()
    started = time.perf_counter()
    report = check_health(
        {"hangs": lambda: release.wait(10), "slow": lambda: time.sleep(0.2), "fast": answers}, timeout_s=0.5
    )
    elapsed = time.perf_counter() - started
    release.set()
    assert elapsed < 2  # the hung probe does not hold the reply
    assert not report.checks["hangs"].ok
    assert report.checks["hangs"].detail == "no answer within 0.5 s"
    assert report.checks["hangs"].latency_ms == 500
    assert report.checks["slow"].ok and report.checks["slow"].latency_ms >= 200
    assert report.checks["fast"].ok


def test_a_long_error_message_is_cut_short() -> None:
    def verbose() -> None:
        raise RuntimeError("x" * 5000)

    detail = check_health({"cloudwatch": verbose}, timeout_s=1).checks["cloudwatch"].detail
    assert detail is not None and len(detail) == 300


@dataclass(frozen=True)
class Key:
    model: str
    version: str
    sha256: str = "0" * 64


def test_ready_when_every_preloaded_model_was_warmed() -> None:
    report = preload_readiness(
        ["churn", "fraud"], [Key("churn", "1.0.0"), Key("fraud", "2.1.0")], [Key("churn", "1.0.0")]
    )
    assert report.status == "ready" and report.http_status == 200
    assert [(m.model, m.version, m.warmed, m.loaded) for m in report.models] == [
        ("churn", "1.0.0", True, True),
        ("fraud", "2.1.0", True, False),  # evicted since: its next request loads it again
    ]


def test_not_ready_when_a_preloaded_model_was_not_warmed() -> None:
    report = preload_readiness(["churn", "missing"], [Key("churn", "1.0.0")], [Key("churn", "1.0.0")])
    assert report.status == "not_ready" and report.http_status == 503
    assert report.models[1].model_dump() == {
        "model": "missing",
        "version": None,
        "warmed": False,
        "loaded": False,
        "detail": NOT_WARMED,
    }


def test_nothing_to_preload_is_ready() -> None:
    report = preload_readiness([], [], [])
    assert report.status == "ready" and report.models == []
