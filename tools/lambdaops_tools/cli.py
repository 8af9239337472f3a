"""`lambdaops`: run the local stack or the demo, and talk to a lambdaops API (local or deployed)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TextIO, TypeAlias

from lambdaops_tools import render
from lambdaops_tools.client import ApiError, LambdaopsClient

DEFAULT_INFO_FILE = Path(".lambdaops") / "local.json"
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"  # `add_subparsers` returns it
DATASET_FILES = ("train.csv", "validation.csv", "holdout.csv")
UPLOAD_RUN_TIMEOUT_S = 120.0
"""How long `train --dataset` waits for the run its manifest's upload starts (EventBridge, then Lambda)."""


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


def _bucket(args: argparse.Namespace, option: str) -> tuple[Any, str]:
    """An S3 client and the artifacts bucket: `--bucket`, or the local stack's (with its endpoint)."""
    import boto3

    info = _info(args)
    bucket = args.bucket or info.get("bucket")
    if not bucket:
        sys.exit(f"{option} needs --bucket (or a local stack's info file)")
    local = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"} if info else {}
    s3 = boto3.client(
        "s3", endpoint_url=info.get("aws_endpoint_url"), region_name=info.get("region"), **local
    )
    return s3, bucket


def _upload(args: argparse.Namespace, folder: str = "models") -> str:
    """Puts `--file` at `<folder>/<name>/uploads/<sha256><suffix>` in the bucket; returns its URI."""
    s3, bucket = _bucket(args, "--file")
    path = Path(args.file)
    data = path.read_bytes()
    key = f"{folder}/{args.name}/uploads/{hashlib.sha256(data).hexdigest()}{path.suffix}"
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

    from lambdaops_tools.demo.story import run_demo, run_drift_demo, run_traffic_demo, run_training_demo
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
        run_training_demo(client, s3, info.bucket)
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


def parse_hyperparameter(text: str) -> tuple[str, str | int | float | bool]:
    """`NAME=VALUE`; the value is JSON when it is a JSON number, boolean or string (`epochs=5` is 5)."""
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    return name.strip(), render.parse_value(value)


def _run_fields(args: argparse.Namespace) -> dict[str, Any]:
    """What `train`'s flags set; what they leave out comes from the manifest, else the deployment."""
    fields = {
        "label": args.label,
        "hyperparameters": dict(args.hyperparameter) if args.hyperparameter else None,
        "tuning": args.tuning,
        "instance_type": args.instance_type,
        "instance_count": args.instance_count,
        "spot": args.spot,
        "max_runtime_seconds": args.max_runtime_seconds,
    }
    return {name: value for name, value in fields.items() if value is not None}


def _upload_dataset(
    client: LambdaopsClient,
    args: argparse.Namespace,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Any:
    """Uploads `--dataset`'s CSVs, then its manifest, and returns the run `{run_id, execution_arn}`.

    The manifest's upload starts the run (the upload trigger), so none is started with `POST /training`:
    the flags go into the uploaded manifest (one is written from them when the folder has none, so the
    dataset is complete, as drift retraining needs), and this finds the run the upload started."""
    folder = Path(args.dataset)
    missing = [name for name in DATASET_FILES[:2] if not (folder / name).is_file()]
    if missing:
        sys.exit(f"{folder} has no {' or '.join(missing)}")
    fields = _run_fields(args)
    manifest = _manifest(folder / "manifest.json", fields)
    if manifest is None:
        sys.exit(f"{folder} has no manifest.json naming the label: pass --label")
    client.get_model(args.model)  # before uploading anything: a run of a model that does not exist fails
    s3, bucket = _bucket(args, "--dataset")
    dataset_id = (args.dataset_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")).strip("/")
    prefix = f"datasets/{args.model}/{dataset_id}/"
    uri = f"s3://{bucket}/{prefix}"
    for name in DATASET_FILES:
        if (folder / name).is_file():
            s3.upload_file(str(folder / name), bucket, prefix + name)
    earlier = {run["run_id"] for run in _runs_of(client, args.model, uri)}
    s3.put_object(Bucket=bucket, Key=prefix + "manifest.json", Body=manifest)
    deadline = clock() + UPLOAD_RUN_TIMEOUT_S
    while True:
        for run in _runs_of(client, args.model, uri):
            if run["run_id"] not in earlier and (run.get("execution_arn") or run["status"] != "running"):
                return {"run_id": run["run_id"], "execution_arn": run.get("execution_arn")}
        if clock() >= deadline:
            sys.exit(
                f"uploaded {uri}, but no run started for its manifest within {UPLOAD_RUN_TIMEOUT_S:g} s;"
                f" see `lambdaops runs --model {args.model}` (is the upload trigger deployed?)"
            )
        sleep(1.0)


def _manifest(path: Path, fields: dict[str, Any]) -> bytes | None:
    """The manifest to upload: the folder's, with the flags' values in place of its own, else the flags';
    None when neither names the label."""
    if not path.is_file():
        return (json.dumps(fields, indent=2) + "\n").encode() if "label" in fields else None
    data = path.read_bytes()
    if not fields:
        return data
    try:
        document = json.loads(data)
    except ValueError as error:
        sys.exit(f"{path} is not JSON: {error}")
    if not isinstance(document, dict):
        sys.exit(f"{path} is not a JSON object")
    return (json.dumps(document | fields, indent=2) + "\n").encode()


def _runs_of(client: LambdaopsClient, model: str, dataset_uri: str) -> list[dict[str, Any]]:
    """The newest runs of `model` on this dataset (newest first: a new one is on the first page)."""
    return [run for run in client.list_runs(model=model)["items"] if run.get("dataset_uri") == dataset_uri]


def follow_run(
    client: LambdaopsClient,
    run_id: str,
    progress: TextIO,
    tty: bool = False,
    width: int = 80,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Writes where the run is whenever that changes, until it ends: a line each, or on a terminal one
    line redrawn in place. Returns the final run."""
    shown = ""

    def update(run: Any) -> None:
        nonlocal shown
        line = render.progress_line(run)
        if tty:
            line = line[: max(width - 1, 1)]  # a wrapped line cannot be redrawn with `\r`
        if line == shown:
            return
        progress.write(f"\r{line.ljust(len(shown))}" if tty else f"{line}\n")
        progress.flush()
        shown = line

    try:
        return client.wait_for_run(run_id, on_update=update, sleep=sleep)
    finally:
        if tty and shown:
            progress.write("\n")


def follow(
    client: LambdaopsClient,
    run_id: str,
    out: TextIO,
    err: TextIO,
    as_json: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Follows the run, then shows it (or its JSON, progress then going to `err`); 0 if it succeeded."""
    progress = err if as_json else out
    try:
        run = follow_run(
            client,
            run_id,
            progress,
            tty=progress.isatty(),
            width=shutil.get_terminal_size().columns,
            sleep=sleep,
        )
    except KeyboardInterrupt:
        print(f"stopped following; the run goes on: lambdaops run {run_id} --follow", file=err)
        return 130
    except TimeoutError as error:
        print(f"{error}; follow it again with: lambdaops run {run_id} --follow", file=err)
        return 1
    print(json.dumps(run, indent=2) if as_json else "\n".join(["", *render.run_lines(run)]), file=out)
    return 0 if run["status"] == "succeeded" else 1


def _train(client: LambdaopsClient, args: argparse.Namespace) -> int:
    if args.dataset_id and not args.dataset:
        sys.exit("--dataset-id goes with --dataset")
    if args.dataset:
        started = _upload_dataset(client, args)
    else:
        started = client.start_training(args.model, args.dataset_uri, **_run_fields(args))
    print(json.dumps(started, indent=2), flush=True)
    return follow(client, started["run_id"], sys.stdout, sys.stderr) if args.wait else 0


def _show_run(client: LambdaopsClient, args: argparse.Namespace) -> int:
    if args.follow:
        return follow(client, args.run_id, sys.stdout, sys.stderr, as_json=args.json)
    run = client.get_run(args.run_id)
    print(json.dumps(run, indent=2) if args.json else "\n".join(render.run_lines(run)))
    return 0


def _list_runs(client: LambdaopsClient, args: argparse.Namespace) -> int:
    page = client.list_runs(args.model, args.status, args.limit, args.next_token)
    if args.json:
        print(json.dumps(page, indent=2))
        return 0
    lines = render.runs_table(page["items"]) if page["items"] else ["no training runs"]
    if page.get("next_token"):
        lines.append(f"more: --next-token {page['next_token']}")
    print("\n".join(lines))
    return 0


def _compare_runs(client: LambdaopsClient, args: argparse.Namespace) -> int:
    a, b = client.get_run(args.a), client.get_run(args.b)
    print(
        json.dumps(render.compare_runs(a, b), indent=2)
        if args.json
        else "\n".join(render.compare_lines(a, b))
    )
    return 0


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
    _training_commands(commands)
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


def _training_commands(commands: Commands) -> None:
    train = commands.add_parser("train", help="start a training (or tuning) run")
    train.add_argument("model")
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset-uri", help="s3://<bucket>/datasets/<model>/<dataset id>/")
    source.add_argument(
        "--dataset",
        metavar="DIR",
        help="upload this folder's train, validation and holdout CSVs, then its manifest.json, whose"
        " upload starts the run (the flags written into it); without one, --label is needed",
    )
    train.add_argument("--dataset-id", help="the uploaded dataset's folder (default: a UTC timestamp)")
    train.add_argument("--bucket")
    train.add_argument("--label", help="the label column (default: the manifest's)")
    train.add_argument(
        "--hyperparameter",
        action="append",
        default=[],
        type=parse_hyperparameter,
        metavar="NAME=VALUE",
        help="repeat; VALUE is JSON when it parses (epochs=5 is 5), else text; replaces the manifest's",
    )
    train.add_argument("--tuning", type=_json_arg, help="the tuning config: JSON or @file")
    train.add_argument("--instance-type")
    train.add_argument("--instance-count", type=int)
    train.add_argument("--spot", action=argparse.BooleanOptionalAction, help="managed spot training")
    train.add_argument("--max-runtime-seconds", type=int)
    train.add_argument("--wait", action="store_true", help="then follow the run; exit 1 if it fails")
    train.set_defaults(act=_train)

    runs = commands.add_parser("runs", help="list training runs, newest first; or `runs compare A B`")
    runs.add_argument("--model")
    runs.add_argument("--status", choices=["running", "succeeded", "failed"])
    runs.add_argument("--limit", type=int)
    runs.add_argument("--next-token")
    runs.add_argument("--json", action="store_true", help="the page as JSON")
    runs.set_defaults(act=_list_runs)
    actions = runs.add_subparsers(dest="action", metavar="{compare}")
    compare = actions.add_parser("compare", help="two training runs side by side (deltas are B - A)")
    compare.add_argument("a", help="a run id")
    compare.add_argument("b", help="a run id")
    # SUPPRESS: `runs --json compare A B` keeps the --json given before the action.
    compare.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    compare.set_defaults(act=_compare_runs)

    run = commands.add_parser("run", help="show a training run, or follow it until it ends")
    run.add_argument("run_id")
    run.add_argument("--follow", action="store_true", help="show its progress; exit 1 if it fails")
    run.add_argument("--json", action="store_true", help="the run as JSON")
    run.set_defaults(act=_show_run)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(args, "run"):
        args.run(args)
        return 0
    try:
        if hasattr(args, "act"):  # the verbs that write their own output and choose the exit code
            code: int = args.act(_client(args), args)
            return code
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
