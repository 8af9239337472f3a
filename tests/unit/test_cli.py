"""The CLI as people meet it: its tables, `--json`, where it sends uploads, and one line (with the exit
code) for each everyday mistake. The API is a local HTTP server thread with canned replies."""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from rich.console import Console

from lambdaops_tools import cli, progress, render
from lambdaops_tools.client import LambdaopsClient
from lambdaops_tools.target import resolve

MODEL = {
    "name": "churn",
    "description": "Predicts churn",
    "tags": {"team": "growth"},
    "production_version": "1.1.0",
    "staging_versions": ["1.2.0", "1.3.0"],
    "latest_version": "1.3.0",
}
VERSION = {
    "model": "churn",
    "version": "1.2.0",
    "stage": "staging",
    "metrics": {"accuracy": 0.91234, "log_loss": 0.2},
    "tags": {"a": "1", "b": "2"},
    "description": "",
    "created_at": "2026-12-02T00:46:36Z",
}
ENTRY = {
    "at": "2026-12-02T00:46:35Z",
    "actor": "arn:aws:iam::000000000000:user/alice",
    "action": "stage_change",
    "version": "1.1.0",
    "from_stage": "staging",
    "to_stage": "production",
    "reason": "beats 1.0.0",
    "approved_by": "arn:aws:iam::000000000000:user/reviewer",
}
NOT_FOUND = {"error": {"code": "ModelNotFound", "message": "model 'nope' does not exist", "details": {}}}


class FakeApi(ThreadingHTTPServer):
    """Canned replies by method and path; records each request as (method, path, query, body)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.replies: dict[tuple[str, str], tuple[int, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, list[str]], Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: FakeApi

    def _reply(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.server.requests.append((self.command, parts.path, parse_qs(parts.query), body))
        status, reply = self.server.replies.get((self.command, parts.path), (404, NOT_FOUND))
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._reply()

    def do_POST(self) -> None:
        self._reply()

    def do_PATCH(self) -> None:
        self._reply()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def api() -> Iterator[FakeApi]:
    server = FakeApi()
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`main(argv)` as a shell runs it: the exit code (argparse's SystemExit included), stdout, stderr."""
    try:
        code = cli.main(list(argv))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()]


def test_the_models_table_has_a_row_per_model() -> None:
    text = render.to_text(render.models_table({"items": [MODEL], "next_token": None}))

    assert rows(text) == [
        ["NAME", "PRODUCTION", "STAGING", "LATEST", "TAGS", "DESCRIPTION"],
        ["churn", "1.1.0", "1.2.0,", "1.3.0", "1.3.0", "team=growth", "Predicts", "churn"],
    ]


def test_the_versions_table_has_a_column_per_metric() -> None:
    other = VERSION | {"version": "1.1.0", "stage": "production", "metrics": {"f1": 0.5}, "tags": {}}

    text = render.to_text(render.versions_table({"items": [VERSION, other]}))

    assert rows(text) == [
        ["VERSION", "STAGE", "ACCURACY", "LOG_LOSS", "F1", "TAGS", "DESCRIPTION", "CREATED"],
        ["1.2.0", "staging", "0.9123", "0.2", "-", "a=1,", "b=2", "-", "2026-12-02T00:46:36Z"],
        ["1.1.0", "production", "-", "-", "0.5", "-", "-", "2026-12-02T00:46:36Z"],
    ]


def test_the_history_table_names_people_by_their_arn_s_last_part() -> None:
    text = render.to_text(render.history_table({"items": [ENTRY]}))

    assert rows(text)[1] == [
        "2026-12-02T00:46:35Z",
        "stage_change",
        "1.1.0",
        "staging",
        "production",
        "alice",
        "reviewer",
        "beats",
        "1.0.0",
    ]


def test_an_empty_page_says_so_and_a_further_page_says_how_to_get_it() -> None:
    assert render.to_text(render.models_table({"items": [], "next_token": None})) == "no models\n"
    text = render.to_text(render.history_table({"items": [ENTRY], "next_token": "abc"}))
    assert text.splitlines()[-1] == "more: --next-token abc"


def test_cells_are_text_never_markup() -> None:
    text = render.to_text(render.models_table({"items": [MODEL | {"tags": {"x": "[bold]y[/bold]"}}]}))

    assert "x=[bold]y[/bold]" in text


def test_the_default_output_is_the_table_and_json_is_exactly_the_reply(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    page = {"items": [MODEL], "next_token": None}
    api.replies[("GET", "/models")] = (200, page)

    code, table, _ = run(capsys, "--api-url", api.url, "models")
    json_code, printed, err = run(capsys, "models", "--api-url", api.url, "--json")  # options after the verb

    assert (code, json_code) == (0, 0)
    assert table == render.to_text(render.models_table(page))
    assert json.loads(printed) == page
    assert err == ""


def test_models_by_tag_sends_the_tag_as_the_versions_listing_does(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.replies[("GET", "/models")] = (200, {"items": [], "next_token": None})

    code, out, _ = run(capsys, "--api-url", api.url, "models", "--tag", "team=growth", "--limit", "5")

    assert (code, out) == (0, "no models\n")
    assert api.requests == [("GET", "/models", {"tag": ["team=growth"], "limit": ["5"]}, None)]


def test_update_merges_tags_into_the_version_s_and_sets_the_description(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    path = "/models/churn/versions/1.2.0"
    api.replies[("GET", path)] = (200, VERSION)
    api.replies[("PATCH", path)] = (200, VERSION | {"tags": {"b": "3", "c": "4"}})

    code, out, _ = run(
        capsys,
        *("--api-url", api.url, "update", "churn", "1.2.0", "--tag", "b=3", "--tag", "c=4"),
        *("--remove-tag", "a", "--description", "the winner"),
    )

    assert code == 0
    assert api.requests[-1] == (
        "PATCH",
        path,
        {},
        {"tags": {"b": "3", "c": "4"}, "description": "the winner"},
    )
    assert ["tags", "b=3,", "c=4"] in rows(out)


def test_a_description_alone_leaves_the_tags_alone(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.replies[("PATCH", "/models/churn/versions/1.2.0")] = (200, VERSION)

    run(capsys, "--api-url", api.url, "update", "churn", "1.2.0", "--description", "")

    assert [(method, body) for method, _, _, body in api.requests] == [("PATCH", {"description": ""})]


def test_an_error_reply_is_its_code_and_message_on_one_line_and_exit_1(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["show", "nope"], ["show", "nope", "--json"]):
        code, out, err = run(capsys, "--api-url", api.url, *argv)

        assert (code, out, err) == (1, "", "ModelNotFound: model 'nope' does not exist\n")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["register", "churn"], "one of the arguments --artifact-uri --file is required"),
        (["register", "churn", "--file", "no-such.onnx"], "argument --file: no such file: no-such.onnx"),
        (["create", "churn", "--tag", "team"], "argument --tag: expected KEY=VALUE, not 'team'"),
        (["create", "churn", "--tag", "=x"], "argument --tag: expected KEY=VALUE, not '=x'"),
        (["models", "--tag", "=x"], "argument --tag: expected KEY or KEY=VALUE, not '=x'"),
        (["traffic", "churn", "--route", "1.0.0"], "argument --route: expected VERSION=WEIGHT"),
        (["traffic", "churn", "--route", "1.0.0=ten"], "argument --route: expected VERSION=WEIGHT"),
        (["traffic", "churn", "--route", "1.0.0=100", "--shadow", "1.1.0"], "argument --shadow: expected"),
        (["traffic", "churn", "--shadow", "1.1.0=0.5"], "--shadow goes with --route"),
        (["canary", "churn", "1.2.0", "--steps", "10,half"], "argument --steps: expected weights like"),
        (["create", "churn", "--policy", "{nope"], "argument --policy: not JSON"),
        (["create", "churn", "--policy", "@no-such.json"], "argument --policy: cannot read no-such.json"),
        (["update", "churn", "1.2.0"], "give --tag, --remove-tag or --description"),
        (["train", "churn", "--dataset-uri", "s3://b/d/", "--dataset-id", "v1"], "--dataset-id goes with"),
        (["promote", "churn", "1.2.0", "live"], "argument stage: invalid choice: 'live'"),
    ],
)
def test_a_usage_error_is_one_line_naming_it_and_exit_2(
    argv: list[str], says: str, api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--api-url", api.url, *argv)

    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith(f"lambdaops {argv[0]}: ")
    assert says in err
    assert api.requests == []


def test_no_api_at_all_says_how_to_start_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--info-file", str(tmp_path / "none.json"), "models")

    assert code == 1
    assert err == (
        f"no API: start one with `lambdaops local` (it writes {tmp_path / 'none.json'}),"
        " or pass --api-url or set LAMBDAOPS_API_URL\n"
    )


def test_a_stopped_local_stack_is_named_with_its_info_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    info = tmp_path / "local.json"
    url = f"http://127.0.0.1:{free_port()}"
    info.write_text(json.dumps({"api_url": url, "bucket": "b", "aws_endpoint_url": url}))

    code, out, err = run(capsys, "--info-file", str(info), "history", "churn")

    assert (code, out) == (1, "")
    assert err.startswith(f"cannot reach the API at {url}: ")
    assert err.endswith(f"is `lambdaops local` running? ({info} may be left from a stack that stopped)\n")
    assert err.count("\n") == 1


def test_an_unreachable_deployed_api_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    code, _, err = run(capsys, "--api-url", url, "--info-file", "no-such.json", "models")

    assert code == 1
    assert err.startswith(f"cannot reach the API at {url}: ") and err.endswith(
        "check --api-url or LAMBDAOPS_API_URL\n"
    )


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """An environment with no AWS region, profile or credentials, and no instance metadata to ask."""
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    (tmp_path / "empty").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "empty"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "empty"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


DEPLOYED = "https://abc123.execute-api.eu-west-1.amazonaws.com/v1"


def test_a_deployed_api_without_a_region_or_credentials_says_what_to_set(
    no_aws: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--api-url", DEPLOYED, "models")
    assert code == 1
    assert err.startswith("no AWS region for signing requests to the deployed API: set AWS_DEFAULT_REGION")

    no_aws.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    code, _, err = run(capsys, "--api-url", DEPLOYED, "models")
    assert code == 1
    assert err.startswith("no AWS credentials for the deployed API: run `aws configure`")
    assert err.count("\n") == 1


def test_the_local_stack_is_the_api_only_when_it_is_the_info_file_s(tmp_path: Path) -> None:
    info = tmp_path / "local.json"
    stack = {
        "api_url": "http://127.0.0.1:8787",
        "aws_endpoint_url": "http://127.0.0.1:5000",
        "bucket": "local",
    }
    info.write_text(json.dumps(stack))

    local = resolve(None, info, environ={})
    same = resolve("http://127.0.0.1:8787/", info, environ={})
    deployed = resolve(None, info, environ={"LAMBDAOPS_API_URL": DEPLOYED})

    assert (local.api_url, local.local, local.bucket) == (stack["api_url"], stack, "local")
    assert same.local == stack
    assert (deployed.api_url, deployed.local, deployed.bucket) == (DEPLOYED, None, None)
    assert resolve(DEPLOYED, info, "mine", environ={}).bucket == "mine"
    assert resolve(DEPLOYED, info, environ={"LAMBDAOPS_BUCKET": "theirs"}).bucket == "theirs"


def test_uploads_to_a_deployed_api_use_the_caller_s_aws_not_a_leftover_local_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = tmp_path / "local.json"
    info.write_text(
        json.dumps({"api_url": "http://127.0.0.1:8787", "aws_endpoint_url": "http://127.0.0.1:5000"})
    )
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")

    local = resolve(None, info, environ={}).s3()
    deployed = resolve(DEPLOYED, info, "artifacts", environ={}).s3()

    assert local.meta.endpoint_url == "http://127.0.0.1:5000"
    assert deployed.meta.endpoint_url == "https://s3.eu-west-1.amazonaws.com"


def test_a_file_for_a_deployed_api_needs_its_bucket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LAMBDAOPS_BUCKET", raising=False)
    artifact = tmp_path / "model.onnx"
    artifact.write_bytes(b"onnx")

    code, _, err = run(capsys, "--api-url", DEPLOYED, "register", "churn", "--file", str(artifact))

    assert code == 2
    assert err == (
        "lambdaops register: --file uploads to the deployment's artifacts bucket:"
        " pass --bucket or set LAMBDAOPS_BUCKET\n"
    )


def test_a_closed_stdout_ends_quietly(
    api: FakeApi, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    api.replies[("GET", "/models")] = (200, {"items": [MODEL]})
    closed: list[int] = []

    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self) -> int:
            closed.append(1)
            return devnull.fileno()

    with open("/dev/null", "w") as devnull:
        monkeypatch.setattr("sys.stdout", ClosedPipe())
        code = cli.main(["--api-url", api.url, "models"])

    assert (code, closed) == (1, [1])
    assert capsys.readouterr().err == ""


CANARY_RUNNING = {
    "rollout_id": "r1",
    "version": "1.2.0",
    "incumbent": "1.1.0",
    "status": "running",
    "step": 0,
    "weight": 50,
    "steps": [{"weight": 50, "started_at": "t0"}],
    "settings": {"steps": [50, 100]},
}
JUDGED = {
    "weight": 50,
    "verdict": "pass",
    "canary": {"invocations": 64, "errors": 0, "error_rate": 0.0, "p99_ms": 3.21},
}
CANARY_STEP_2 = CANARY_RUNNING | {
    "step": 1,
    "weight": 100,
    "steps": [JUDGED, {"weight": 100, "started_at": "t1"}],
}
CANARY_DONE = CANARY_STEP_2 | {
    "status": "rolled_back",
    "reason": "canary p99 latency 900.0 ms is above 250 ms",
    "steps": [JUDGED, {"weight": 100, "verdict": "breach", "canary": None}],
}


class Rollouts(LambdaopsClient):
    """A canary's states, one per poll, without waiting between them."""

    def __init__(self, states: list[dict[str, Any]]) -> None:
        super().__init__("http://127.0.0.1:1")
        self.states = states

    def get_canary(self, name: str) -> Any:
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]

    def wait_for_canary(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return super().wait_for_canary(name, on_update=kwargs["on_update"], sleep=lambda _: None)


def test_following_a_canary_writes_each_step_and_verdict_once() -> None:
    out = io.StringIO()
    states = [CANARY_RUNNING, CANARY_RUNNING, CANARY_STEP_2, CANARY_DONE]

    final = progress.follow_canary(Rollouts(states), "churn", Console(file=out))

    assert final == CANARY_DONE
    assert out.getvalue().splitlines() == [
        "1.2.0 over 1.1.0: running, step 1 of 2 (50%)",
        "step 1 (50%): pass; canary 0/64 errors, p99 3.2 ms, incumbent no requests",
        "1.2.0 over 1.1.0: running, step 2 of 2 (100%)",
        "step 2 (100%): breach; canary no requests, incumbent no requests",
        "1.2.0 over 1.1.0: rolled_back, step 2 of 2 (100%): canary p99 latency 900.0 ms is above 250 ms",
    ]


@pytest.mark.parametrize(("status", "code"), [("promoted", 0), ("rolled_back", 1)])
def test_canary_follow_exits_by_whether_it_promoted(
    status: str, code: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    done = CANARY_DONE | {"status": status}
    monkeypatch.setattr(cli, "LambdaopsClient", lambda url: Rollouts([CANARY_RUNNING, done]))

    exit_code, out, err = run(
        capsys, "--api-url", "http://127.0.0.1:1", "canary", "churn", "--follow", "--json"
    )

    assert exit_code == code
    assert json.loads(out) == done
    assert err.splitlines()[0] == "1.2.0 over 1.1.0: running, step 1 of 2 (50%)"


class RecordingS3:
    def __init__(self) -> None:
        self.uploads: list[tuple[str, str, str]] = []

    def upload_file(self, filename: str, bucket: str, key: str, Callback: Any = None) -> None:  # noqa: N803
        if Callback is not None:
            Callback(Path(filename).stat().st_size)
        self.uploads.append((filename, bucket, key))


@pytest.mark.parametrize("terminal", [False, True])
def test_uploads_go_file_by_file_with_a_bar_only_on_a_terminal(tmp_path: Path, terminal: bool) -> None:
    files = [(tmp_path / name, f"datasets/churn/v1/{name}") for name in ("train.csv", "validation.csv")]
    for path, _ in files:
        path.write_text("a,b\n1,2\n")
    screen, s3 = io.StringIO(), RecordingS3()

    progress.upload_files(s3, "bucket", files, Console(file=screen, force_terminal=terminal))

    assert s3.uploads == [(str(path), "bucket", key) for path, key in files]
    assert ("validation.csv -> s3://bucket/datasets/churn/v1/validation.csv" in screen.getvalue()) is terminal


def test_a_reply_without_the_error_shape_is_still_one_line(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.replies[("GET", "/models")] = (
        403,
        {"message": "The security token included in the request is invalid."},
    )

    code, _, err = run(capsys, "--api-url", api.url, "models")

    assert (code, err) == (1, "HttpError: HTTP 403: The security token included in the request is invalid.\n")
