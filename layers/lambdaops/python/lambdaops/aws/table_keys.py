"""The registry table's keys, in one place: every item lives under its model's partition.

| item            | PK            | SK                                  | GSI1PK / GSI1SK |
|-----------------|---------------|-------------------------------------|-----------------|
| model           | MODEL#<name>  | META                                | MODELS / <name> |
| version         | MODEL#<name>  | VERSION#<zero-padded semver>        |                 |
| history         | MODEL#<name>  | HISTORY#<revision:012>#<n:02>       |                 |
| canary rollout  | MODEL#<name>  | ROLLOUT#<started_at>#<rollout id>   |                 |
| rollout claim   | MODEL#<name>  | ACTIVE-ROLLOUT                      |                 |
| drift report    | MODEL#<name>  | DRIFT#<created_at>#<report id>      |                 |
| drift cursor    | MODEL#<name>  | DRIFT-SCAN                          |                 |
| training run    | RUN#<run id>  | META                                | RUNS / <started_at>#<run id> |
| idempotency     | IDEMPOTENCY#<function> | <hash of the event key>    |                 |

Access patterns are written beside each adapter (`registry_store`, `rollout_store`, `drift_index`,
`run_store`); Powertools' Idempotency utility writes its own records (`idempotency_pk`).
"""

from __future__ import annotations

from lambdaops.core.semver import parse_version

META = "META"
MODELS = "MODELS"
"""GSI1's partition for listing models by name."""
VERSION_PREFIX = "VERSION#"
HISTORY_PREFIX = "HISTORY#"
ROLLOUT_PREFIX = "ROLLOUT#"
ACTIVE_ROLLOUT = "ACTIVE-ROLLOUT"
DRIFT_PREFIX = "DRIFT#"
DRIFT_SCAN = "DRIFT-SCAN"


def model_pk(name: str) -> str:
    return f"MODEL#{name}"


def version_sk(version: str) -> str:
    """Zero-padded, so the table's string order is version order."""
    return f"{VERSION_PREFIX}{parse_version(version).sort_key}"


def history_sk(revision: int, index: int) -> str:
    return f"{HISTORY_PREFIX}{revision:012d}#{index:02d}"


def rollout_sk(ref: str) -> str:
    """`ref` is `lambdaops.promotion.rollouts.rollout_ref`: `<started_at>#<rollout id>`."""
    return f"{ROLLOUT_PREFIX}{ref}"


def drift_report_sk(created_at: str, report_id: str) -> str:
    return f"{DRIFT_PREFIX}{created_at}#{report_id}"


RUNS = "RUNS"
"""GSI1's partition for listing training runs, newest first."""


def run_pk(run_id: str) -> str:
    return f"RUN#{run_id}"


def runs_gsi_sk(started_at: str, run_id: str) -> str:
    return f"{started_at}#{run_id}"


def idempotency_pk(function: str) -> str:
    """The partition Powertools' Idempotency utility keeps a function's records under."""
    return f"IDEMPOTENCY#{function}"
