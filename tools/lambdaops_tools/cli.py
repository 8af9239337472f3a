"""`lambdaops`: run the local stack or the demo, and talk to a lambdaops API (local or deployed).

Output is a table or a short view by default; `--json` prints exactly the API's JSON reply on stdout
and nothing else (progress then goes to stderr). The API is --api-url, else $LAMBDAOPS_API_URL, else
the local stack's info file; uploads (--file, --dataset) go to that local stack's S3 when the API is
the one its info file names, else to --bucket (or $LAMBDAOPS_BUCKET) with your own AWS credentials.

Exit codes: 0 when the command did what it was asked; 2 for a usage error (a missing or malformed
option, a file that is not there), with one line on stderr; 1 for everything else: the API's error
reply (`code: message`), an API that does not answer, missing AWS set-up, a failed upload, a training
run that failed or a canary that did not promote; 130 after Ctrl-C. A closed stdout (`| head`) ends it
quietly with 1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, NoReturn, TextIO

from rich.console import Console, RenderableType

from lambdaops_tools import progress, render
from lambdaops_tools.client import ApiUnreachable, LambdaopsClient
from lambdaops_tools.exits import FAILED, USAGE, CommandError, explain, usage
from lambdaops_tools.target import Target, resolve

DEFAULT_INFO_FILE = Path(".lambdaops") / "local.json"
DATASET_FILES = ("train.csv", "validation.csv", "holdout.csv")
UPLOAD_RUN_TIMEOUT_S = 120.0
"""How long `train --dataset` waits for the run its manifest's upload starts (EventBridge, then Lambda)."""
INTERRUPTED = 130
View = Callable[[Any], RenderableType]


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the usage text is one `--help` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def console(stream: TextIO) -> Console:
    """A terminal's width, or no wrapping at all where the output is piped or logged."""
    return Console(file=stream, width=None if stream.isatty() else 10_000)


def show(view: RenderableType, stream: TextIO) -> None:
    """In colour on a terminal; elsewhere plain text, with nothing padding the lines' ends."""
    if stream.isatty():
        console(stream).print(view)
    else:
        stream.write(render.to_text(view))


@dataclass(frozen=True)
class Output:
    stdout: TextIO
    stderr: TextIO
    as_json: bool = False

    def show(self, result: Any, view: View) -> None:
        if self.as_json:
            print(json.dumps(result, indent=2), file=self.stdout)
        else:
            show(view(result), self.stdout)

    @property
    def progress(self) -> Console:
        """Where long work shows how it goes: stdout, unless stdout is for the JSON."""
        return console(self.stderr if self.as_json else self.stdout)


@dataclass(frozen=True)
class Context:
    client: LambdaopsClient
    target: Target
    out: Output


def json_arg(text: str) -> Any:
    """A JSON value, or @path to a JSON file."""
    try:
        return json.loads(Path(text[1:]).read_text() if text.startswith("@") else text)
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot read {text[1:]}: {error.strerror}") from None
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not JSON ({error}); give JSON or @file") from None


def existing_file(text: str) -> Path:
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return Path(text)


def existing_folder(text: str) -> Path:
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"no such folder: {text}")
    return Path(text)


def tag(text: str) -> tuple[str, str]:
    """`KEY=VALUE`, the value possibly empty."""
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, not {text!r}")
    return key, value


def tag_filter(text: str) -> str:
    """`KEY` or `KEY=VALUE`, as the listings' `tag` parameter takes it."""
    if not text.partition("=")[0]:
        raise argparse.ArgumentTypeError(f"expected KEY or KEY=VALUE, not {text!r}")
    return text


def route(text: str) -> dict[str, Any]:
    """`VERSION=WEIGHT` or `VERSION=WEIGHT:VARIANT`."""
    version, equals, rest = text.partition("=")
    weight, _, variant = rest.partition(":")
    if not equals or not version or not weight.isdigit():
        raise argparse.ArgumentTypeError(f"expected VERSION=WEIGHT or VERSION=WEIGHT:VARIANT, not {text!r}")
    return {"version": version, "weight": int(weight), **({"variant": variant} if variant else {})}


def shadow(text: str) -> dict[str, Any]:
    """`VERSION=SAMPLE_RATE`."""
    version, _, rate = text.partition("=")
    try:
        sample_rate = float(rate)
    except ValueError:
        sample_rate = None
    if not version or sample_rate is None:
        raise argparse.ArgumentTypeError(f"expected VERSION=SAMPLE_RATE (e.g. 1.2.0=0.1), not {text!r}")
    return {"version": version, "sample_rate": sample_rate}


def steps(text: str) -> list[int]:
    try:
        return [int(step) for step in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected weights like 10,50,100, not {text!r}") from None


def parse_hyperparameter(text: str) -> tuple[str, str | int | float | bool]:
    """`NAME=VALUE`; the value is JSON when it is a JSON number, boolean or string (`epochs=5` is 5)."""
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    return name.strip(), render.parse_value(value)


def _upload(ctx: Context, args: argparse.Namespace, folder: str = "models") -> str:
    """Puts `--file` at `<folder>/<name>/uploads/<sha256><suffix>` in the bucket; returns its URI."""
    bucket = ctx.target.require_bucket("--file")
    path: Path = args.file
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for chunk in iter(lambda: data.read(1 << 20), b""):
            digest.update(chunk)
    key = f"{folder}/{args.name}/uploads/{digest.hexdigest()}{path.suffix}"
    progress.upload_files(ctx.target.s3(), bucket, [(path, key)], console(ctx.out.stderr))
    return f"s3://{bucket}/{key}"


def _traffic(ctx: Context, args: argparse.Namespace) -> Any:
    if not args.route:
        if args.shadow:
            raise usage("--shadow goes with --route (the split is set whole)")
        return ctx.client.get_traffic(args.name)
    return ctx.client.set_traffic(args.name, args.route, args.shadow)


def _update(ctx: Context, args: argparse.Namespace) -> Any:
    """Tags are merged into the version's (PATCH replaces them all): `--tag` adds or changes one,
    `--remove-tag` drops one. Last writer wins, as with the PATCH itself."""
    if not (args.tag or args.remove_tag or args.description is not None):
        raise usage("give --tag, --remove-tag or --description")
    tags = None
    if args.tag or args.remove_tag:
        current = ctx.client.get_version(args.name, args.version).get("tags") or {}
        tags = {k: v for k, v in (current | dict(args.tag)).items() if k not in args.remove_tag}
    return ctx.client.update_version(args.name, args.version, tags=tags, description=args.description)


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
    source.add_argument("--file", type=existing_file, help="upload this CSV or JSON Lines file first")
    source.add_argument("--rows", type=json_arg, help="JSON list of rows, or @file")
    command.add_argument(
        "--bucket", help="where --file goes (default: $LAMBDAOPS_BUCKET, or the local stack's)"
    )


def _data(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    if args.rows is not None:
        return {"rows": args.rows}
    return {"data_uri": args.data_uri or _upload(ctx, args, folder="datasets")}


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
    ctx: Context,
    args: argparse.Namespace,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Any:
    """Uploads `--dataset`'s CSVs, then its manifest, and returns the run `{run_id, execution_arn}`.

    The manifest's upload starts the run (the upload trigger), so none is started with `POST /training`:
    the flags go into the uploaded manifest (one is written from them when the folder has none, so the
    dataset is complete, as drift retraining needs), and this finds the run the upload started."""
    folder: Path = args.dataset
    missing = [name for name in DATASET_FILES[:2] if not (folder / name).is_file()]
    if missing:
        raise usage(f"{folder} has no {' or '.join(missing)}")
    fields = _run_fields(args)
    manifest = _manifest(folder / "manifest.json", fields)
    if manifest is None:
        raise usage(f"{folder} has no manifest.json naming the label: pass --label")
    bucket = ctx.target.require_bucket("--dataset")
    client = ctx.client
    client.get_model(args.model)  # before uploading anything: a run of a model that does not exist fails
    s3 = ctx.target.s3()
    dataset_id = (args.dataset_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")).strip("/")
    prefix = f"datasets/{args.model}/{dataset_id}/"
    uri = f"s3://{bucket}/{prefix}"
    files = [(folder / name, prefix + name) for name in DATASET_FILES if (folder / name).is_file()]
    shown = console(ctx.out.stderr)
    progress.upload_files(s3, bucket, files, shown)
    earlier = {run["run_id"] for run in _runs_of(client, args.model, uri)}
    s3.put_object(Bucket=bucket, Key=prefix + "manifest.json", Body=manifest)
    deadline = clock() + UPLOAD_RUN_TIMEOUT_S
    with shown.status(f"uploaded {uri}; waiting for the run its manifest starts"):
        while True:
            for run in _runs_of(client, args.model, uri):
                if run["run_id"] not in earlier and (run.get("execution_arn") or run["status"] != "running"):
                    return {"run_id": run["run_id"], "execution_arn": run.get("execution_arn")}
            if clock() >= deadline:
                raise CommandError(
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
        raise usage(f"{path} is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise usage(f"{path} is not a JSON object")
    return (json.dumps(document | fields, indent=2) + "\n").encode()


def _runs_of(client: LambdaopsClient, model: str, dataset_uri: str) -> list[dict[str, Any]]:
    """The newest runs of `model` on this dataset (newest first: a new one is on the first page)."""
    return [run for run in client.list_runs(model=model)["items"] if run.get("dataset_uri") == dataset_uri]


def follow(ctx: Context, run_id: str, sleep: Callable[[float], None] = time.sleep) -> int:
    """Follows the run, then shows it (or its JSON); 0 if it succeeded."""
    try:
        run = progress.follow_run(ctx.client, run_id, ctx.out.progress, sleep=sleep)
    except KeyboardInterrupt:
        print(f"stopped following; the run goes on: lambdaops run {run_id} --follow", file=ctx.out.stderr)
        return INTERRUPTED
    except TimeoutError as error:
        raise CommandError(f"{error}; follow it again with: lambdaops run {run_id} --follow") from None
    if not ctx.out.as_json:
        print(file=ctx.out.stdout)
    ctx.out.show(run, render.run_view)
    return 0 if run["status"] == "succeeded" else FAILED


def _train(ctx: Context, args: argparse.Namespace) -> int:
    if args.dataset_id and not args.dataset:
        raise usage("--dataset-id goes with --dataset")
    if args.dataset:
        started = _upload_dataset(ctx, args)
    else:
        started = ctx.client.start_training(args.model, args.dataset_uri, **_run_fields(args))
    if not (args.wait and ctx.out.as_json):  # with both, stdout holds only the final run
        ctx.out.show(started, render.details)
    return follow(ctx, started["run_id"]) if args.wait else 0


def _show_run(ctx: Context, args: argparse.Namespace) -> int:
    if args.follow:
        return follow(ctx, args.run_id)
    ctx.out.show(ctx.client.get_run(args.run_id), render.run_view)
    return 0


def _canary(ctx: Context, args: argparse.Namespace) -> int:
    """Starts a rollout (with a version), shows the latest, or (`--follow`) follows it to its end."""
    if args.version is not None:
        started = ctx.client.start_canary(
            args.name,
            args.version,
            steps=args.steps,
            interval_seconds=args.interval_seconds,
            max_error_rate=args.max_error_rate,
            max_p99_ms=args.max_p99_ms,
            approved_by=args.approved_by,
        )
        if not args.follow:
            ctx.out.show(started, render.canary_view)
            return 0
    if not args.follow:
        ctx.out.show(ctx.client.get_canary(args.name), render.canary_view)
        return 0
    try:
        rollout = progress.follow_canary(ctx.client, args.name, ctx.out.progress)
    except KeyboardInterrupt:
        print(
            f"stopped following; the rollout goes on: lambdaops canary {args.name} --follow",
            file=ctx.out.stderr,
        )
        return INTERRUPTED
    if not ctx.out.as_json:
        print(file=ctx.out.stdout)
    ctx.out.show(rollout, render.canary_view)
    return 0 if rollout["status"] == "promoted" else FAILED


def _compare_runs(ctx: Context, args: argparse.Namespace) -> Any:
    return render.compare_runs(ctx.client.get_run(args.a), ctx.client.get_run(args.b))


def _global_options(parser: argparse.ArgumentParser, given: bool) -> None:
    """`--api-url`, `--info-file` and `--json`, before the verb or (`given`: no defaults) after it."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if given else value  # SUPPRESS: the verb keeps what came before it

    parser.add_argument(
        "--api-url",
        default=default(None),
        help="API base URL (default: $LAMBDAOPS_API_URL, or the info file's)",
    )
    parser.add_argument(
        "--info-file",
        default=default(str(DEFAULT_INFO_FILE)),
        help=f"the local stack's (default: {DEFAULT_INFO_FILE})",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print the API's JSON reply and nothing else",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="lambdaops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _global_options(parser, given=False)
    common = Parser(add_help=False)
    _global_options(common, given=True)
    commands = parser.add_subparsers(dest="command", required=True)
    add = partial(commands.add_parser, parents=[common])

    _stack_commands(add)
    _model_commands(add)
    _version_commands(add)
    _promotion_commands(add)
    _serving_commands(add)
    _drift_commands(add)
    _training_commands(add, common)
    return parser


AddCommand = Callable[..., argparse.ArgumentParser]


def _stack_commands(add: AddCommand) -> None:
    local = add("local", help="serve the API locally on moto")
    local.add_argument("--port", type=int, default=8787)
    local.add_argument("--aws-port", type=int, default=0, help="moto's port (default: any free port)")
    local.add_argument("--actor", help="identity recorded as the actor (default: a local IAM user ARN)")
    local.set_defaults(run=_run_local)

    demo = add("demo", help="start the local stack and run the end-to-end demo")
    demo.add_argument("--port", type=int, default=0)
    demo.set_defaults(run=_run_demo)


def _model_commands(add: AddCommand) -> None:
    create = add("create", help="create a model")
    create.add_argument("name")
    create.add_argument("--description", default="")
    create.add_argument("--tag", action="append", default=[], type=tag, help="KEY=VALUE (repeat)")
    create.add_argument("--policy", type=json_arg, help="JSON or @file")
    create.add_argument("--drift", type=json_arg, help="the drift policy: JSON or @file")
    create.set_defaults(
        call=lambda c, a: c.client.create_model(a.name, a.description, dict(a.tag), a.policy, a.drift),
        view=render.details,
    )

    models = add("models", aliases=["list"], help="list models, or those with a tag")
    models.add_argument("--tag", type=tag_filter, help="KEY or KEY=VALUE")
    models.add_argument("--limit", type=int)
    models.add_argument("--next-token")
    models.set_defaults(
        call=lambda c, a: c.client.list_models(a.limit, a.next_token, a.tag), view=render.models_table
    )

    show = add("show", help="show a model, or one of its versions")
    show.add_argument("name")
    show.add_argument("version", nargs="?")
    show.set_defaults(
        call=lambda c, a: (
            c.client.get_version(a.name, a.version) if a.version else c.client.get_model(a.name)
        ),
        view=render.details,
    )


def _version_commands(add: AddCommand) -> None:
    register = add("register", help="register a version")
    register.add_argument("name")
    source = register.add_mutually_exclusive_group(required=True)
    source.add_argument("--artifact-uri")
    source.add_argument("--file", type=existing_file, help="upload this ONNX file first")
    register.add_argument(
        "--bucket", help="where --file goes (default: $LAMBDAOPS_BUCKET, or the local stack's)"
    )
    which = register.add_mutually_exclusive_group()
    which.add_argument("--version")
    which.add_argument("--bump", choices=["major", "minor", "patch"])
    for field in ("metrics", "params", "input-schema", "lineage"):
        register.add_argument(f"--{field}", type=json_arg, help="JSON or @file")
    register.add_argument("--tag", action="append", default=[], type=tag, help="KEY=VALUE (repeat)")
    register.add_argument("--description")
    register.set_defaults(
        call=lambda c, a: c.client.register_version(
            a.name,
            a.artifact_uri or _upload(c, a),
            version=a.version,
            bump=a.bump,
            metrics=a.metrics,
            params=a.params,
            input_schema=a.input_schema,
            lineage=a.lineage,
            tags=dict(a.tag) or None,
            description=a.description,
        ),
        view=render.details,
    )

    versions = add("versions", help="list a model's versions, newest first")
    versions.add_argument("name")
    versions.add_argument("--stage", choices=["none", "staging", "production", "archived"])
    versions.add_argument("--tag", type=tag_filter, help="KEY or KEY=VALUE")
    versions.add_argument("--limit", type=int)
    versions.add_argument("--next-token")
    versions.set_defaults(
        call=lambda c, a: c.client.list_versions(
            a.name, stage=a.stage, tag=a.tag, limit=a.limit, next_token=a.next_token
        ),
        view=render.versions_table,
    )

    update = add("update", help="change a version's tags or description")
    update.add_argument("name")
    update.add_argument("version")
    update.add_argument(
        "--tag", action="append", default=[], type=tag, help="KEY=VALUE: add or change (repeat)"
    )
    update.add_argument("--remove-tag", action="append", default=[], metavar="KEY", help="repeat")
    update.add_argument("--description")
    update.set_defaults(call=_update, view=render.details)

    compare = add("compare", help="differences between two versions")
    compare.add_argument("name")
    compare.add_argument("a")
    compare.add_argument("b")
    compare.set_defaults(call=lambda c, a: c.client.compare(a.name, a.a, a.b), view=render.comparison_view)


def _promotion_commands(add: AddCommand) -> None:
    promote = add("promote", help="move a version to a stage")
    promote.add_argument("name")
    promote.add_argument("version")
    promote.add_argument("stage", choices=["staging", "production", "archived"])
    promote.add_argument("--reason", default="")
    promote.add_argument("--approved-by")
    promote.set_defaults(
        call=lambda c, a: c.client.set_stage(a.name, a.version, a.stage, a.reason, a.approved_by),
        view=render.stage_change,
    )

    rollback = add("rollback", help="restore the previous production version")
    rollback.add_argument("name")
    rollback.add_argument("--reason", default="")
    rollback.set_defaults(call=lambda c, a: c.client.rollback(a.name, a.reason), view=render.rollback_view)

    history = add("history", help="who did what, when and why")
    history.add_argument("name")
    history.set_defaults(call=lambda c, a: c.client.history(a.name), view=render.history_table)


def _serving_commands(add: AddCommand) -> None:
    predict = add("predict", help="predict with production, a version, or the split's pick")
    predict.add_argument("name")
    predict.add_argument("instances", type=json_arg, help="JSON list of rows (arrays or records), or @file")
    predict.add_argument("--version")
    predict.add_argument("--routing-key")
    predict.set_defaults(
        call=lambda c, a: c.client.predict(a.name, a.instances, a.version, a.routing_key), view=render.details
    )

    traffic = add("traffic", help="show the traffic split, or set it with --route")
    traffic.add_argument("name")
    traffic.add_argument(
        "--route",
        action="append",
        default=[],
        type=route,
        help="VERSION=WEIGHT or VERSION=WEIGHT:VARIANT (repeat)",
    )
    traffic.add_argument("--shadow", type=shadow, help="VERSION=SAMPLE_RATE")
    traffic.set_defaults(call=_traffic, view=render.traffic_view)

    canary = add("canary", help="start a canary rollout, show the latest one, or follow it to its end")
    canary.add_argument("name")
    canary.add_argument("version", nargs="?", help="start a rollout of this staging version")
    canary.add_argument(
        "--follow", action="store_true", help="show its steps until it ends; exit 1 unless promoted"
    )
    canary.add_argument("--steps", type=steps, help="e.g. 10,50,100")
    canary.add_argument("--interval-seconds", type=int)
    canary.add_argument("--max-error-rate", type=float)
    canary.add_argument("--max-p99-ms", type=float)
    canary.add_argument("--approved-by")
    canary.set_defaults(act=_canary)


def _drift_commands(add: AddCommand) -> None:
    baseline = add("baseline", help="profile a version's training data for drift checks")
    baseline.add_argument("name")
    baseline.add_argument("version")
    _data_source(baseline, required=True)
    baseline.set_defaults(
        call=lambda c, a: c.client.create_baseline(a.name, a.version, **_data(c, a)), view=render.details
    )

    drift = add("drift", help="check data for drift, or list past reports without data")
    drift.add_argument("name")
    _data_source(drift, required=False)
    drift.add_argument("--version", help="the version whose baseline to use (default: production)")
    drift.add_argument("--methods", type=json_arg, help="JSON or @file")
    drift.add_argument("--limit", type=int)
    drift.set_defaults(
        call=lambda c, a: (
            c.client.check_drift(a.name, version=a.version, methods=a.methods, **_data(c, a))
            if a.data_uri or a.file or a.rows is not None
            else c.client.drift_history(a.name, a.limit)
        ),
        view=render.drift_view,
    )


def _training_commands(add: AddCommand, common: argparse.ArgumentParser) -> None:
    train = add("train", help="start a training (or tuning) run")
    train.add_argument("model")
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset-uri", help="s3://<bucket>/datasets/<model>/<dataset id>/")
    source.add_argument(
        "--dataset",
        metavar="DIR",
        type=existing_folder,
        help="upload this folder's train, validation and holdout CSVs, then its manifest.json, whose"
        " upload starts the run (the flags written into it); without one, --label is needed",
    )
    train.add_argument("--dataset-id", help="the uploaded dataset's folder (default: a UTC timestamp)")
    train.add_argument(
        "--bucket", help="where --dataset goes (default: $LAMBDAOPS_BUCKET, or the local stack's)"
    )
    train.add_argument("--label", help="the label column (default: the manifest's)")
    train.add_argument(
        "--hyperparameter",
        action="append",
        default=[],
        type=parse_hyperparameter,
        metavar="NAME=VALUE",
        help="repeat; VALUE is JSON when it parses (epochs=5 is 5), else text; replaces the manifest's",
    )
    train.add_argument("--tuning", type=json_arg, help="the tuning config: JSON or @file")
    train.add_argument("--instance-type")
    train.add_argument("--instance-count", type=int)
    train.add_argument("--spot", action=argparse.BooleanOptionalAction, help="managed spot training")
    train.add_argument("--max-runtime-seconds", type=int)
    train.add_argument("--wait", action="store_true", help="then follow the run; exit 1 if it fails")
    train.set_defaults(act=_train)

    runs = add("runs", help="list training runs, newest first; or `runs compare A B`")
    runs.add_argument("--model")
    runs.add_argument("--status", choices=["running", "succeeded", "failed"])
    runs.add_argument("--limit", type=int)
    runs.add_argument("--next-token")
    runs.set_defaults(
        call=lambda c, a: c.client.list_runs(a.model, a.status, a.limit, a.next_token), view=render.runs_table
    )
    actions = runs.add_subparsers(dest="action", metavar="{compare}")
    compare = actions.add_parser(
        "compare", parents=[common], help="two training runs side by side (deltas are B - A)"
    )
    compare.add_argument("a", help="a run id")
    compare.add_argument("b", help="a run id")
    compare.set_defaults(call=_compare_runs, view=render.runs_comparison_view)

    run = add("run", help="show a training run, or follow it until it ends")
    run.add_argument("run_id")
    run.add_argument("--follow", action="store_true", help="show its progress; exit 1 if it fails")
    run.set_defaults(act=_show_run)


def _command(args: argparse.Namespace, out: Output) -> int:
    target = resolve(args.api_url, Path(args.info_file), getattr(args, "bucket", None))
    ctx = Context(LambdaopsClient(target.api_url), target, out)
    try:
        if hasattr(args, "act"):  # the verbs that write their own output and choose the exit code
            code: int = args.act(ctx, args)
            return code
        out.show(args.call(ctx, args), args.view)
        return 0
    except ApiUnreachable as error:
        raise CommandError(f"{error}; {target.unreachable_fix()}") from None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(args, "run"):
        args.run(args)
        return 0
    try:
        return _command(args, Output(sys.stdout, sys.stderr, args.json))
    except BrokenPipeError:
        # The reader stopped reading (`| head`): no message, and none from Python's last flush either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return FAILED
    except KeyboardInterrupt:
        return INTERRUPTED
    except Exception as error:
        failure = explain(error)
        if failure is None:
            raise
        # A usage error reads as argparse's own do: `lambdaops <verb>: <what is wrong>`.
        prefix = f"lambdaops {args.command}: " if failure.exit_code == USAGE else ""
        print(f"{prefix}{failure}", file=sys.stderr)
        return failure.exit_code


if __name__ == "__main__":
    sys.exit(main())
