"""CDK entry point, run as `python -m infra.app` (by `make synth` and `cdk synth`), checked by cdk-nag."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    import aws_cdk as cdk

    from infra.stack import add_checked_stack

    # Without the CDK CLI nothing sets CDK_OUTDIR, and the App would synthesize into a temp folder.
    app = cdk.App(outdir=os.environ.get("CDK_OUTDIR", str(REPO_ROOT / "cdk.out")))
    add_checked_stack(app)
    app.synth()


if __name__ == "__main__":
    main()
