"""A small client for the lambdaops HTTP API, local or deployed (then signed with SigV4)."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode, urlsplit


class ApiError(Exception):
    """The API's error reply, `{"error": {code, message, details}}`."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class ApiUnreachable(Exception):
    """No reply at all: nothing listens at the URL, the name does not resolve, or it timed out."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach the API at {url}: {reason}")
        self.url = url
        self.reason = reason


class AwsSetupMissing(Exception):
    """A deployed API's request cannot be signed: no AWS region or no credentials in boto3's chain."""


def _not_ours(status: int, text: str) -> str:
    """A reply without the error shape (API Gateway's own `{"message"}`, a proxy's page) in one line."""
    with contextlib.suppress(ValueError, KeyError, TypeError):
        text = str(json.loads(text)["message"])
    return f"HTTP {status}: " + " ".join(text.split())[:300]


def _is_local(url: str) -> bool:
    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


class LambdaopsClient:
    def __init__(self, api_url: str, sign: bool | None = None, timeout_s: float = 60.0) -> None:
        if urlsplit(api_url).scheme not in ("http", "https"):
            raise ApiUnreachable(api_url, "the API's URL must start with https:// (or http:// locally)")
        self.api_url = api_url.rstrip("/")
        self.sign = (not _is_local(api_url)) if sign is None else sign
        self.timeout_s = timeout_s

    def request(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        params = {k: v for k, v in (query or {}).items() if v is not None}
        url = self.api_url + path + (f"?{urlencode(params)}" if params else "")
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if self.sign:
            headers = self._signed_headers(method, url, data, headers)
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:  # nosec B310 # http(s): __init__
                text = reply.read().decode()
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            try:
                problem = json.loads(text)["error"]
            except (ValueError, KeyError, TypeError):
                problem = {"code": "HttpError", "message": _not_ours(error.code, text), "details": {}}
            raise ApiError(
                error.code, problem["code"], problem["message"], problem.get("details", {})
            ) from None
        except urllib.error.URLError as error:
            raise ApiUnreachable(self.api_url, str(error.reason)) from None
        except (ConnectionError, TimeoutError) as error:  # a reset or a timeout while reading the reply
            raise ApiUnreachable(self.api_url, str(error) or type(error).__name__) from None
        return json.loads(text) if text else None

    @staticmethod
    def _signed_headers(method: str, url: str, data: bytes | None, headers: dict[str, str]) -> dict[str, str]:
        import boto3
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        session = boto3.session.Session()
        credentials = session.get_credentials()
        if session.region_name is None:
            raise AwsSetupMissing(
                "no AWS region for signing requests to the deployed API: set AWS_DEFAULT_REGION"
                " (or a region in your AWS profile)"
            )
        if credentials is None:
            raise AwsSetupMissing(
                "no AWS credentials for the deployed API: run `aws configure` or `aws sso login`,"
                " or set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )
        aws_request = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(credentials, "execute-api", session.region_name).add_auth(aws_request)
        return dict(aws_request.headers.items())

    def create_model(
        self,
        name: str,
        description: str = "",
        tags: dict[str, str] | None = None,
        policy: dict[str, Any] | None = None,
        drift: dict[str, Any] | None = None,
    ) -> Any:
        body: dict[str, Any] = {"name": name, "description": description, "tags": tags or {}}
        if policy is not None:
            body["policy"] = policy
        if drift is not None:
            body["drift"] = drift
        return self.request("POST", "/models", body)

    def get_model(self, name: str) -> Any:
        return self.request("GET", f"/models/{quote(name)}")

    def list_models(
        self, limit: int | None = None, next_token: str | None = None, tag: str | None = None
    ) -> Any:
        """`tag` is `key` or `key=value`, as for versions."""
        return self.request("GET", "/models", query={"tag": tag, "limit": limit, "next_token": next_token})

    def register_version(self, name: str, artifact_uri: str, **fields: Any) -> Any:
        body = {"artifact_uri": artifact_uri, **{k: v for k, v in fields.items() if v is not None}}
        return self.request("POST", f"/models/{quote(name)}/versions", body)

    def list_versions(self, name: str, **query: Any) -> Any:
        return self.request("GET", f"/models/{quote(name)}/versions", query=query)

    def get_version(self, name: str, version: str) -> Any:
        return self.request("GET", f"/models/{quote(name)}/versions/{quote(version)}")

    def update_version(
        self, name: str, version: str, tags: dict[str, str] | None = None, description: str | None = None
    ) -> Any:
        """`tags` replaces the version's whole set of tags."""
        body = {k: v for k, v in {"tags": tags, "description": description}.items() if v is not None}
        return self.request("PATCH", f"/models/{quote(name)}/versions/{quote(version)}", body)

    def compare(self, name: str, a: str, b: str) -> Any:
        return self.request("GET", f"/models/{quote(name)}/compare", query={"a": a, "b": b})

    def set_stage(
        self, name: str, version: str, stage: str, reason: str = "", approved_by: str | None = None
    ) -> Any:
        body: dict[str, Any] = {"stage": stage, "reason": reason}
        if approved_by is not None:
            body["approved_by"] = approved_by
        return self.request("POST", f"/models/{quote(name)}/versions/{quote(version)}/stage", body)

    def rollback(self, name: str, reason: str = "") -> Any:
        return self.request("POST", f"/models/{quote(name)}/rollback", {"reason": reason})

    def history(self, name: str) -> Any:
        return self.request("GET", f"/models/{quote(name)}/history")

    def predict(
        self, name: str, instances: list[Any], version: str | None = None, routing_key: str | None = None
    ) -> Any:
        body: dict[str, Any] = {"instances": instances}
        if version is not None:
            body["version"] = version
        if routing_key is not None:
            body["routing_key"] = routing_key
        return self.request("POST", f"/models/{quote(name)}/predict", body)

    def get_traffic(self, name: str) -> Any:
        return self.request("GET", f"/models/{quote(name)}/traffic")

    def set_traffic(
        self, name: str, routes: list[dict[str, Any]], shadow: dict[str, Any] | None = None
    ) -> Any:
        body: dict[str, Any] = {"routes": routes}
        if shadow is not None:
            body["shadow"] = shadow
        return self.request("PUT", f"/models/{quote(name)}/traffic", body)

    def start_canary(self, name: str, version: str, **settings: Any) -> Any:
        body = {"version": version, **{k: v for k, v in settings.items() if v is not None}}
        return self.request("POST", f"/models/{quote(name)}/canary", body)

    def get_canary(self, name: str) -> Any:
        return self.request("GET", f"/models/{quote(name)}/canary")

    def create_baseline(self, name: str, version: str, **source: Any) -> Any:
        """`rows=[...]` or `data_uri="s3://..."`: the version's training data."""
        return self.request("POST", f"/models/{quote(name)}/versions/{quote(version)}/baseline", source)

    def check_drift(self, name: str, **request: Any) -> Any:
        """`rows` or `data_uri`, and optionally `version` and `methods`."""
        body = {k: v for k, v in request.items() if v is not None}
        return self.request("POST", f"/models/{quote(name)}/drift", body)

    def drift_history(self, name: str, limit: int | None = None) -> Any:
        return self.request("GET", f"/models/{quote(name)}/drift", query={"limit": limit})

    def start_training(self, model: str, dataset_uri: str, **fields: Any) -> Any:
        """`label`, `hyperparameters`, `tuning`, `instance_type`, ...; what is left out comes from the
        dataset's manifest, else the deployment's defaults."""
        body = {
            "model": model,
            "dataset_uri": dataset_uri,
            **{k: v for k, v in fields.items() if v is not None},
        }
        return self.request("POST", "/training", body)

    def list_runs(
        self,
        model: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        next_token: str | None = None,
    ) -> Any:
        query = {"model": model, "status": status, "limit": limit, "next_token": next_token}
        return self.request("GET", "/training", query=query)

    def get_run(self, run_id: str) -> Any:
        return self.request("GET", f"/training/{quote(run_id)}")

    def wait_for_run(
        self,
        run_id: str,
        poll_s: float = 0.5,
        timeout_s: float | None = 24 * 3600.0,
        on_update: Callable[[Any], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> Any:
        """Polls until the run is no longer `running`, calling `on_update(run)` whenever it changes;
        the final run. `TimeoutError` after `timeout_s` (None: wait as long as it takes)."""
        return poll(
            lambda: self.get_run(run_id), f"training run {run_id}", poll_s, timeout_s, on_update, sleep, clock
        )

    def wait_for_canary(
        self,
        name: str,
        poll_s: float = 2.0,
        timeout_s: float | None = 24 * 3600.0,
        on_update: Callable[[Any], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> Any:
        """Polls the model's latest canary rollout until it is no longer `running`, as `wait_for_run`."""
        return poll(
            lambda: self.get_canary(name), f"the canary of {name}", poll_s, timeout_s, on_update, sleep, clock
        )


def poll(
    fetch: Callable[[], Any],
    what: str,
    poll_s: float,
    timeout_s: float | None,
    on_update: Callable[[Any], None] | None,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> Any:
    """Fetches until the `status` is no longer `running`, calling `on_update` on each change."""
    deadline = None if timeout_s is None else clock() + timeout_s
    last: Any = None
    while True:
        state = fetch()
        if state != last and on_update is not None:
            on_update(state)
        last = state
        if state["status"] != "running":
            return state
        if deadline is not None and clock() >= deadline:
            raise TimeoutError(f"{what} is still running after {timeout_s:g} s")
        sleep(poll_s)
