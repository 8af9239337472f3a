"""Create the deployment's stateful resources in moto from the same declarations CDK uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from lambdaops.deployment import DEPLOYMENT, Deployment


@dataclass(frozen=True)
class LocalResources:
    table_name: str
    bucket_name: str
    event_bus_name: str


def table_definition(deployment: Deployment) -> dict[str, Any]:
    """`CreateTable` arguments for the registry table, derived from its `TableSpec`."""
    spec = deployment.table

    def key_schema(partition_key: str, sort_key: str) -> list[dict[str, str]]:
        return [
            {"AttributeName": partition_key, "KeyType": "HASH"},
            {"AttributeName": sort_key, "KeyType": "RANGE"},
        ]

    return {
        "TableName": spec.local_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"} for n in spec.attribute_names],
        "KeySchema": key_schema(spec.keys.partition_key, spec.keys.sort_key),
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index.name,
                "KeySchema": key_schema(index.keys.partition_key, index.keys.sort_key),
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in spec.indexes
        ],
    }


def create_local_resources(deployment: Deployment = DEPLOYMENT) -> LocalResources:
    """Table (with PITR), versioned bucket with EventBridge notifications; idempotent."""
    dynamodb = boto3.client("dynamodb")
    s3 = boto3.client("s3")
    table = deployment.table.local_name
    if table not in dynamodb.list_tables()["TableNames"]:
        dynamodb.create_table(**table_definition(deployment))
        dynamodb.get_waiter("table_exists").wait(TableName=table)
    dynamodb.update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    bucket = deployment.bucket.local_name
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    return LocalResources(table_name=table, bucket_name=bucket, event_bus_name=deployment.event_bus_name)
