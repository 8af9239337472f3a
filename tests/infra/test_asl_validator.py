"""Every ASL file passes asl-validator (npm, pinned in package-lock.json), as written.

The validator accepts `${...}` placeholders where a value or ARN goes, so the files are checked exactly
as they are kept; `test_statemachines.py` checks what fills them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lambdaops_tools.deployment import PROJECT_ROOT

VALIDATOR = PROJECT_ROOT / "node_modules" / ".bin" / "asl-validator"
ASL_FILES = sorted((PROJECT_ROOT / "statemachines").glob("*.asl.json"))


def test_there_are_asl_files_to_validate() -> None:
    assert ASL_FILES, "no statemachines/*.asl.json"


@pytest.mark.parametrize("definition", ASL_FILES, ids=lambda path: path.name)
def test_asl_validator_accepts_the_definition(definition: Path) -> None:
    if not VALIDATOR.is_file():
        pytest.fail(f"{VALIDATOR.relative_to(PROJECT_ROOT)} is missing: run `make test` (it runs `npm ci`)")
    done = subprocess.run(
        [str(VALIDATOR), "--json-path", str(definition)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"asl-validator refused {definition.name}:\n{done.stdout}{done.stderr}"
