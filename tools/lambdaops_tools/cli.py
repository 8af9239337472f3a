"""`lambdaops`: run the local stack or the demo, and talk to a lambdaops API (local or deployed)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys
import threading
from functools import partial
from pathlib import Path
from typing import Any, TypeAlias

from lambdaops_tools.client import ApiError, LambdaopsClient

DEFAULT_INFO_FILE = Path(".lambdaops") / "local.json"
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"  # `add_subparsers` returns it


def _json_arg(text: str) -> Any:
    """A JSON value, or @path to a JSON file."""
    return json.loads(Path(text[1:]).read_text() if text.startswith("@") else text)


def _tags(pairs: list[str]) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in pairs)


def _info(args: argparse.Namespace) -> dict[str, Any]:
    path = Path(args.info_file)
    return json.loads(path.read_text()) if path.exists() else {}


def _client(args: argparse.Namespace) -> LambdaopsClient:
    url = args.api_url or os.environ.get("LAMBDAOPS_API_URL") or _info(args).get("api_url")
    if not url:
        sys.exit("no API: pass --api-url, set LAMBDAOPS_API_URL, or start `lambdaops local`")
    return LambdaopsClient(url)


def _upload(args: argparse.Namespace, folder: str = "models") -> str:
    """Puts `--file` at `<folder>/<name>/uploads/<sha256><suffix>` in the bucket; returns its URI."""
    import boto3

    info = _info(args)
    bucket = args.bucket or info.get("bucket")
    if not bucket:
        sys.exit("--file needs --bucket (or a local stack's info file)")
    path = Path(args.file)
    data = path.read_bytes()
    key = f"{folder}/{args.name}/uploads/{hashlib.sha256(data).hexdigest()}{path.suffix}"
    local = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"} if info else {}
    s3 = boto3.client(
        "s3", endpoint_url=info.get("aws_endpoint_url"), region_name=info.get("region"), **local
    )
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    return f"s3://{bucket}/{key}"


def _traffic(client: LambdaopsClient, args: argparse.Namespace) -> Any:
    if not args.route:
        return client.get_traffic(args.name)
    routes = []
    for text in args.route:
        version, _, rest = text.partition("=")
        weight, _, variant = rest.partition(":")
        routes.append(
            {"version": version, "weight": int(weight), **({"variant": variant} if variant else {})}
        )
    shadow = None
    if args.shadow:
        version, _, rate = args.shadow.partition("=")
        shadow = {"version": version, "sample_rate": float(rate)}
    return client.set_traffic(args.name, routes, shadow)


def _run_local(args: argparse.Namespace) -> None:
    from lambdaops_tools.local.stack import LocalStack

    stack = LocalStack(port=args.port, aws_port=args.aws_port, actor=args.actor)
    info = stack.start()
    stack.write_info(Path(args.info_file))
    print(json.dumps({**info.__dict__, "info_file": str(args.info_file)}, indent=2), flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


def _run_demo(args: argparse.Namespace) -> None:
    import boto3

    from lambdaops_tools.demo.story import run_demo, run_drift_demo, run_traffic_demo
    from lambdaops_tools.local.stack import LocalStack

    # The demo fails a canary on purpose; its functions' error logs would drown the story.
    stack = LocalStack(port=args.port, function_log_level="CRITICAL")
    info = stack.start()
    print(f"local stack: API {info.api_url}, AWS {info.aws_endpoint_url}", flush=True)
    try:
        s3 = boto3.client("s3", endpoint_url=info.aws_endpoint_url)
        client = LambdaopsClient(info.api_url)
        run_demo(client, s3, info.bucket)
        run_traffic_demo(client, s3, info.bucket)
        aws = partial(boto3.client, endpoint_url=info.aws_endpoint_url)
        run_drift_demo(client, aws, info.bucket, info.alerts_topic_arn)
    finally:
        stack.stop()


def _data_source(command: argparse.ArgumentParser, required: bool) -> None:
    source = command.add_mutually_exclusive_group(required=required)
    source.add_argument("--data-uri", help="s3://<bucket>/... CSV or JSON Lines")
    source.add_argument("--file", help="upload this CSV or JSON Lines file first")
    source.add_argument("--rows", type=_json_arg, help="JSON list of rows, or @file")
    command.add_argument("--bucket")


def _data(args: argparse.Namespace) -> dict[str, Any]:
    if args.rows is not None:
        return {"rows": args.rows}
    return {"data_uri": args.data_uri or _upload(args, folder="datasets")}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lambdaops", description=__doc__)
    parser.add_argument("--api-url", help="API base URL (default: $LAMBDAOPS_API_URL or the info file)")
    parser.add_argument("--info-file", default=str(DEFAULT_INFO_FILE), help="the local stack's info file")
    commands = parser.add_subparsers(dest="command", required=True)

    _stack_commands(commands)
    _model_commands(commands)
    _version_commands(commands)
    _promotion_commands(commands)
    _serving_commands(commands)
    _drift_commands(commands)
    return parser


def _stack_commands(commands: Commands) -> None:
    local = commands.add_parser("local", help="serve the API locally on moto")
    local.add_argument("--port", type=int, default=8787)
    local.add_argument("--aws-port", type=int, default=0, help="moto's port (default: any free port)")
    local.add_argument("--actor", help="identity recorded as the actor (default: a local IAM user ARN)")
    local.set_defaults(run=_run_local)

    demo = commands.add_parser("demo", help="start the local stack and run the end-to-end demo")
    demo.add_argument("--port", type=int, default=0)
    demo.set_defaults(run=_run_demo)


def _model_commands(commands: Commands) -> None:
    create = commands.add_parser("create", help="create a model")
    create.add_argument("name")
    create.add_argument("--description", default="")
    create.add_argument("--tag", action="append", default=[], help="key=value")
    create.add_argument("--policy", type=_json_arg, help="JSON or @file")
    create.add_argument("--drift", type=_json_arg, help="the drift policy: JSON or @file")
    create.set_defaults(
        call=lambda c, a: c.create_model(a.name, a.description, _tags(a.tag), a.policy, a.drift)
    )

    listing = commands.add_parser("list", help="list models")
    listing.add_argument("--limit", type=int)
    listing.add_argument("--next-token")
    listing.set_defaults(call=lambda c, a: c.list_models(a.limit, a.next_token))

    show = commands.add_parser("show", help="show a model, or one of its versions")
    show.add_argument("name")
    show.add_argument("version", nargs="?")
    show.set_defaults(
        call=lambda c, a: c.get_version(a.name, a.version) if a.version else c.get_model(a.name)
    )


def _version_commands(commands: Commands) -> None:
    register = commands.add_parser("register", help="register a version")
    register.add_argument("name")
    source = register.add_mutually_exclusive_group(required=True)
    source.add_argument("--artifact-uri")
    source.add_argument("--file", help="upload this ONNX file first")
    register.add_argument("--bucket")
    which = register.add_mutually_exclusive_group()
    which.add_argument("--version")
    which.add_argument("--bump", choices=["major", "minor", "patch"])
    for field in ("metrics", "params", "input-schema", "lineage"):
        register.add_argument(f"--{field}", type=_json_arg, help="JSON or @file")
    register.add_argument("--tag", action="append", default=[], help="key=value")
    register.add_argument("--description")
    register.set_defaults(
        call=lambda c, a: c.register_version(
            a.name,
            a.artifact_uri or _upload(a),
            version=a.version,
            bump=a.bump,
            metrics=a.metrics,
            params=a.params,
            input_schema=a.input_schema,
            lineage=a.lineage,
            tags=_tags(a.tag) or None,
            description=a.description,
        )
    )

    versions = commands.add_parser("versions", help="list a model's versions")
    versions.add_argument("name")
    versions.add_argument("--stage")
    versions.add_argument("--tag")
    versions.add_argument("--limit", type=int)
    versions.add_argument("--next-token")
    versions.set_defaults(
        call=lambda c, a: c.list_versions(
            a.name, stage=a.stage, tag=a.tag, limit=a.limit, next_token=a.next_token
        )
    )

    compare = commands.add_parser("compare", help="differences between two versions")
    compare.add_argument("name")
    compare.add_argument("a")
    compare.add_argument("b")
    compare.set_defaults(call=lambda c, a: c.compare(a.name, a.a, a.b))


def _promotion_commands(commands: Commands) -> None:
    promote = commands.add_parser("promote", help="move a version to a stage")
    promote.add_argument("name")
    promote.add_argument("version")
    promote.add_argument("stage", choices=["staging", "production", "archived"])
    promote.add_argument("--reason", default="")
    promote.add_argument("--approved-by")
    promote.set_defaults(call=lambda c, a: c.set_stage(a.name, a.version, a.stage, a.reason, a.approved_by))

    rollback = commands.add_parser("rollback", help="restore the previous production version")
    rollback.add_argument("name")
    rollback.add_argument("--reason", default="")
    rollback.set_defaults(call=lambda c, a: c.rollback(a.name, a.reason))

    history = commands.add_parser("history", help="who did what, when and why")
    history.add_argument("name")
    history.set_defaults(call=lambda c, a: c.history(a.name))


def _serving_commands(commands: Commands) -> None:
    predict = commands.add_parser("predict", help="predict with production, a version, or the split's pick")
    predict.add_argument("name")
    predict.add_argument("instances", type=_json_arg, help="JSON list of rows (arrays or records), or @file")
    predict.add_argument("--version")
    predict.add_argument("--routing-key")
    predict.set_defaults(call=lambda c, a: c.predict(a.name, a.instances, a.version, a.routing_key))

    traffic = commands.add_parser("traffic", help="show the traffic split, or set it with --route")
    traffic.add_argument("name")
    traffic.add_argument(
        "--route", action="append", default=[], help="VERSION=WEIGHT or VERSION=WEIGHT:VARIANT (repeat)"
    )
    traffic.add_argument("--shadow", help="VERSION=SAMPLE_RATE")
    traffic.set_defaults(call=_traffic)

    canary = commands.add_parser("canary", help="start a canary rollout, or show the latest one")
    canary.add_argument("name")
    canary.add_argument("version", nargs="?", help="start a rollout of this staging version")
    canary.add_argument(
        "--steps", type=lambda text: [int(step) for step in text.split(",")], help="e.g. 10,50,100"
    )
    canary.add_argument("--interval-seconds", type=int)
    canary.add_argument("--max-error-rate", type=float)
    canary.add_argument("--max-p99-ms", type=float)
    canary.add_argument("--approved-by")
    canary.set_defaults(
        call=lambda c, a: (
            c.get_canary(a.name)
            if a.version is None
            else c.start_canary(
                a.name,
                a.version,
                steps=a.steps,
                interval_seconds=a.interval_seconds,
                max_error_rate=a.max_error_rate,
                max_p99_ms=a.max_p99_ms,
                approved_by=a.approved_by,
            )
        )
    )


def _drift_commands(commands: Commands) -> None:
    baseline = commands.add_parser("baseline", help="profile a version's training data for drift checks")
    baseline.add_argument("name")
    baseline.add_argument("version")
    _data_source(baseline, required=True)
    baseline.set_defaults(call=lambda c, a: c.create_baseline(a.name, a.version, **_data(a)))

    drift = commands.add_parser("drift", help="check data for drift, or list past reports without data")
    drift.add_argument("name")
    _data_source(drift, required=False)
    drift.add_argument("--version", help="the version whose baseline to use (default: production)")
    drift.add_argument("--methods", type=_json_arg, help="JSON or @file")
    drift.add_argument("--limit", type=int)
    drift.set_defaults(
        call=lambda c, a: (
            c.check_drift(a.name, version=a.version, methods=a.methods, **_data(a))
            if a.data_uri or a.file or a.rows is not None
            else c.drift_history(a.name, a.limit)
        )
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(args, "run"):
        args.run(args)
        return 0
    try:
        result = args.call(_client(args), args)
    except ApiError as error:
        print(
            json.dumps(
                {"error": {"code": error.code, "message": error.message, "details": error.details}}, indent=2
            ),
            file=sys.stderr,
        )
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
