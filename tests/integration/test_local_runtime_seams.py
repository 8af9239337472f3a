"""Each seam `local_runtime` fills in moto: these fail loudly if moto's internals move."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from lambdaops_tools.demo.sample_models import TrainedModel
from lambdaops_tools.deployment import DEPLOYMENT
from lambdaops_tools.local import local_runtime
from lambdaops_tools.local.local_runtime import (
    fire_schedule,
    install_event_delivery,
    install_lambda_invoke,
    install_percentiles,
    percentile,
)
from lambdaops_tools.local.resources import (
    LOCAL_ACCOUNT,
    REGION,
    LocalResources,
    create_functions_and_state_machines,
)

from .conftest import Api


def test_percentiles_in_moto_cloudwatch(aws: LocalResources) -> None:
    install_percentiles()
    cloudwatch = boto3.client("cloudwatch")
    now = datetime.now(UTC)
    cloudwatch.put_metric_data(
        Namespace="test",
        MetricData=[{"MetricName": "Latency", "Values": [float(v) for v in range(1, 101)], "Timestamp": now}],
    )
    reply = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": f"p{rank}",
                "MetricStat": {
                    "Metric": {"Namespace": "test", "MetricName": "Latency"},
                    "Period": 60,
                    "Stat": f"p{rank}",
                },
            }
            for rank in (50, 99, 100)
        ],
        StartTime=now - timedelta(minutes=1),
        EndTime=now + timedelta(minutes=1),
    )
    values = {result["Id"]: result["Values"] for result in reply["MetricDataResults"]}
    assert values == {"p50": [50.0], "p99": [99.0], "p100": [100.0]}


@pytest.mark.parametrize(("rank", "expected"), [(0, 1.0), (50, 2.0), (99, 4.0), (100, 4.0)])
def test_nearest_rank_percentile(rank: float, expected: float) -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], rank) == expected


def test_lambda_invoke_runs_the_declared_handler(api: Api) -> None:
    create_functions_and_state_machines(api.resources)
    install_lambda_invoke(api.functions)
    event = json.loads(
        (api.functions["registry"].spec.code_dir.parents[1] / "events/registry/get_model.json").read_text()
    )
    reply = boto3.client("lambda").invoke(FunctionName="registry", Payload=json.dumps(event))
    result = json.loads(reply["Payload"].read())
    assert result["statusCode"] == 404  # the model of the sample event does not exist: the real handler ran
    assert json.loads(result["body"])["error"]["code"] == "ModelNotFound"


def test_lambda_invoke_reports_a_handler_exception_as_a_function_error(api: Api) -> None:
    create_functions_and_state_machines(api.resources)
    install_lambda_invoke(api.functions)
    reply = boto3.client("lambda").invoke(FunctionName="canary", Payload=json.dumps({"action": "nonsense"}))
    assert reply["FunctionError"] == "Handled"
    assert "errorMessage" in json.loads(reply["Payload"].read())


def test_emf_output_becomes_cloudwatch_metrics(
    aws: LocalResources, trained: TrainedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    api = Api(aws)
    api.call("POST", "/models", {"name": "emf-model"})
    assert boto3.client("cloudwatch").list_metrics(Namespace="lambdaops")["Metrics"] == []
    assert api.register("emf-model", "1.0.0", trained)[0] == 201
    [metric] = boto3.client("cloudwatch").list_metrics(
        Namespace="lambdaops", MetricName="VersionsRegistered"
    )["Metrics"]
    assert metric["Dimensions"] == [{"Name": "service", "Value": "lambdaops-registry"}]


def test_a_failed_transaction_never_undoes_a_concurrent_commit(aws: LocalResources) -> None:
    """moto backs up the whole table before a transaction and restores it if the transaction fails, with
    no lock: a failure racing a commit wiped the commit (and its deepcopy crashed on a changing table).
    This is what let two racing promotions both land. `install_serial_writes` closes that gap."""
    import threading

    from botocore.exceptions import ClientError

    from lambdaops_tools.local.local_runtime import install_serial_writes

    install_serial_writes()
    client, table = boto3.client("dynamodb"), aws.table_name
    for index in range(500):  # a table big enough that the backup copy takes a while
        client.put_item(
            TableName=table, Item={"PK": {"S": f"filler{index}"}, "SK": {"S": "x"}, "pad": {"S": "y" * 200}}
        )
    start, crashes = threading.Barrier(16), []

    def write(index: int) -> None:
        start.wait()
        item = {"Put": {"TableName": table, "Item": {"PK": {"S": f"item{index}"}, "SK": {"S": "x"}}}}
        doomed = {
            "ConditionCheck": {
                "TableName": table,
                "Key": {"PK": {"S": "absent"}, "SK": {"S": "x"}},
                "ConditionExpression": "attribute_exists(PK)",
            }
        }
        try:
            client.transact_write_items(TransactItems=[item] if index % 2 == 0 else [item, doomed])
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                crashes.append(error)
        except Exception as error:  # moto's own crash under the race
            crashes.append(error)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert crashes == []
    stored = {
        index
        for index in range(16)
        if "Item" in client.get_item(TableName=table, Key={"PK": {"S": f"item{index}"}, "SK": {"S": "x"}})
    }
    assert stored == set(range(0, 16, 2))


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """This test's own registry of local functions, so a stand-in never outlives it."""
    monkeypatch.setattr(local_runtime, "_registered", {})


class Recorder:
    """Stands in for a `LocalFunction`: keeps the events it is invoked with."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        return {}


def test_eventbridge_delivers_to_lambda_and_step_functions_targets_and_keeps_sqs(
    api: Api, registered: None
) -> None:
    arns = create_functions_and_state_machines(api.resources)
    recorder = Recorder()
    install_lambda_invoke({"canary": recorder})  # type: ignore[dict-item]
    install_event_delivery()
    events, sqs = boto3.client("events"), boto3.client("sqs")
    queue = sqs.create_queue(QueueName="seen")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="on-x", EventPattern=json.dumps({"detail-type": ["X"]}))
    events.put_targets(
        Rule="on-x",
        Targets=[
            {"Id": "fn", "Arn": arns["canary"]},
            {"Id": "machine", "Arn": arns["canary-rollout"], "Input": json.dumps({"constant": True})},
            {"Id": "queue", "Arn": queue_arn},
        ],
    )
    events.put_events(Entries=[{"Source": "test", "DetailType": "X", "Detail": json.dumps({"n": 1})}])
    events.put_events(Entries=[{"Source": "test", "DetailType": "Y", "Detail": "{}"}])

    assert [event["detail"] for event in recorder.events] == [{"n": 1}]
    [execution] = boto3.client("stepfunctions").list_executions(stateMachineArn=arns["canary-rollout"])[
        "executions"
    ]
    started = boto3.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    assert json.loads(started["input"]) == {"constant": True}
    [message] = sqs.receive_message(QueueUrl=queue)["Messages"]
    assert json.loads(message["Body"])["detail"] == {"n": 1}


def test_a_schedule_fires_only_on_demand_with_a_scheduled_event(api: Api, registered: None) -> None:
    create_functions_and_state_machines(api.resources)
    recorder = Recorder()
    [schedule] = DEPLOYMENT.schedules
    install_lambda_invoke({schedule.function: recorder})  # type: ignore[dict-item]
    install_event_delivery()
    events = boto3.client("events")
    events.put_events(Entries=[{"Source": "test", "DetailType": "X", "Detail": "{}"}])
    assert recorder.events == []  # moto matches a schedule's rule to every event; AWS never does

    fire_schedule(schedule.name, LOCAL_ACCOUNT, REGION)

    [event] = recorder.events
    rule = events.describe_rule(Name=schedule.name)
    assert (event["detail-type"], event["source"], event["resources"]) == (
        "Scheduled Event",
        "aws.events",
        [rule["Arn"]],
    )
    assert rule["ScheduleExpression"] == schedule.expression


def test_eventbridge_starts_a_named_execution_in_execute_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """With execute mode on, moto keeps state machines in the parser's backend and executes them; delivery
    must find them there, and name each execution (unnamed ones collide on `...:None`)."""
    import time

    from moto import mock_aws

    for key, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        install_event_delivery()
        sfn, events = boto3.client("stepfunctions"), boto3.client("events")
        machine = sfn.create_state_machine(
            name="echo",
            definition=json.dumps({"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}),
            roleArn=f"arn:aws:iam::{LOCAL_ACCOUNT}:role/sfn",
        )["stateMachineArn"]
        events.put_rule(Name="on-x", EventPattern=json.dumps({"detail-type": ["X"]}))
        events.put_targets(Rule="on-x", Targets=[{"Id": "machine", "Arn": machine}])
        for n in (1, 2):
            events.put_events(Entries=[{"Source": "test", "DetailType": "X", "Detail": json.dumps({"n": n})}])

        deadline = time.monotonic() + 10
        while True:
            executions = sfn.list_executions(stateMachineArn=machine)["executions"]
            if len(executions) == 2 and all(e["status"] == "SUCCEEDED" for e in executions):
                break
            assert time.monotonic() < deadline, executions
            time.sleep(0.05)
        outputs = [
            json.loads(sfn.describe_execution(executionArn=e["executionArn"])["output"]) for e in executions
        ]
        assert sorted(output["detail"]["n"] for output in outputs) == [1, 2]
        assert not any(e["executionArn"].endswith(":None") for e in executions)
