"""Hyperparameters as SageMaker passes them: `--name value` arguments and the SM_HPS object.

Arguments win over SM_HPS. A value is JSON-decoded when it parses (the SDK sends `"\\"churned\\""`), else
taken as written (`churned`, `0.001`). Names SageMaker or tuning add (`sagemaker_program`,
`_tuning_objective_metric`, ...) and any other unknown name are ignored.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lambdaops_trainer.failure import InvalidHyperparameter


@dataclass(frozen=True)
class Hyperparameters:
    """What one training job uses; `label` has no default."""

    label: str
    epochs: int = 20
    batch_size: int = 1024
    learning_rate: float = 1e-3
    hidden_units: int = 64
    hidden_layers: int = 2
    patience: int = 3
    seed: int = 7
    weight_decay: float = 0.0
    dropout: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# With postponed annotations a field's type is its source text.
_KINDS: dict[str, type] = {
    field.name: {"str": str, "int": int, "float": float}[str(field.type)]
    for field in dataclasses.fields(Hyperparameters)
}
_AT_LEAST = {"epochs": 1, "batch_size": 1, "hidden_units": 1, "hidden_layers": 0, "patience": 1, "seed": 0}
_MAX_SEED = 2**63 - 1


def parse_hyperparameters(argv: Sequence[str], sm_hps: Mapping[str, object]) -> Hyperparameters:
    """The job's hyperparameters, defaults filled in; `InvalidHyperparameter` names the first bad one."""
    given: dict[str, object] = {}
    for name, value in sm_hps.items():
        key = _known(name)
        if key is not None:
            given[key] = value
    for name, text in _arguments(argv):
        key = _known(name)
        if key is not None:
            given[key] = text
    if "label" not in given:
        raise InvalidHyperparameter("hyperparameter 'label' is required: the name of the label column")
    values = {name: _coerce(name, _KINDS[name], value) for name, value in given.items()}
    hyperparameters = Hyperparameters(**values)  # type: ignore[arg-type]
    _check_ranges(hyperparameters)
    return hyperparameters


def _known(name: str) -> str | None:
    key = name.replace("-", "_")
    return key if key in _KINDS else None


def _arguments(argv: Sequence[str]) -> Iterator[tuple[str, str]]:
    """`--name value` and `--name=value` pairs; stray tokens are skipped."""
    position = 0
    while position < len(argv):
        token = argv[position]
        position += 1
        if not token.startswith("--") or len(token) == 2:
            continue
        name, equals, value = token[2:].partition("=")
        if equals:
            yield name, value
        elif position < len(argv) and not argv[position].startswith("--"):
            yield name, argv[position]
            position += 1
        elif _known(name) is not None:
            raise InvalidHyperparameter(f"hyperparameter '{name}' was given no value")


def _decoded(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        decoded: object = json.loads(value)
    except ValueError:
        return value
    return decoded


def _coerce(name: str, kind: type, value: object) -> str | int | float:
    decoded = _decoded(value)
    if kind is str:
        if isinstance(decoded, str):
            return decoded
        return value if isinstance(value, str) else json.dumps(value)
    if isinstance(decoded, bool):
        raise InvalidHyperparameter(f"hyperparameter '{name}' must be a number; got {value!r}")
    number: float | int
    if isinstance(decoded, int | float):
        number = decoded
    elif isinstance(decoded, str):
        try:
            number = int(decoded)
        except ValueError:
            try:
                number = float(decoded)
            except ValueError:
                raise InvalidHyperparameter(
                    f"hyperparameter '{name}' must be a number; got {value!r}"
                ) from None
    else:
        raise InvalidHyperparameter(f"hyperparameter '{name}' must be a number; got {value!r}")
    if not math.isfinite(number):
        raise InvalidHyperparameter(f"hyperparameter '{name}' must be a finite number; got {value!r}")
    if kind is int:
        if isinstance(number, float) and not number.is_integer():
            raise InvalidHyperparameter(f"hyperparameter '{name}' must be a whole number; got {value!r}")
        return int(number)
    return float(number)


def _check_ranges(hp: Hyperparameters) -> None:
    if not hp.label:
        raise InvalidHyperparameter("hyperparameter 'label' is empty: give the name of the label column")
    for name, least in _AT_LEAST.items():
        value = getattr(hp, name)
        if value < least:
            raise InvalidHyperparameter(f"hyperparameter '{name}' must be at least {least}; got {value}")
    rules = (
        ("seed", hp.seed <= _MAX_SEED, "must be below 2**63"),
        ("learning_rate", hp.learning_rate > 0, "must be positive"),
        ("weight_decay", hp.weight_decay >= 0, "must not be negative"),
        ("dropout", 0 <= hp.dropout < 1, "must be in [0, 1)"),
    )
    for name, holds, rule in rules:
        if not holds:
            raise InvalidHyperparameter(f"hyperparameter '{name}' {rule}; got {getattr(hp, name)}")
