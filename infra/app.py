"""CDK entry point (`make synth`, `cdk synth`): one `LambdaopsStack`, checked by cdk-nag."""

from __future__ import annotations

import os
import sys
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
    # `python infra/app.py` puts infra/ first on sys.path, where infra/constructs would shadow the
    # `constructs` library; the repo root in its place makes `infra` importable as a package instead.
    sys.path[0] = str(REPO_ROOT)
    main()
