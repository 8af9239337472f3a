"""cfn-lint finds no errors in the synthesized template, in any region (offline: its specs are bundled)."""

from __future__ import annotations

from cfnlint.api import lint_all

from tests.infra.conftest import Synthesized


def test_template_has_no_cfn_lint_errors(synthesized: Synthesized) -> None:
    matches = lint_all(synthesized.template_path.read_text())
    errors = [match for match in matches if match.rule.severity == "error"]
    for match in matches:
        if match.rule.severity != "informational":
            print(f"{match.rule.severity} {match.rule.id} {match.message}")
    assert errors == []
