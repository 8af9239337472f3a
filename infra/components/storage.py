"""The stateful resources: the registry table and the artifacts bucket (with its key and access-log
bucket)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from lambdaops_tools.deployment import BucketSpec, TableSpec


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class Storage(Construct):
    """Table and buckets that outlive the stack: retained on delete, with fixed logical ids.

    Fixed logical ids (from the declarations) keep a refactor of the construct tree from replacing them.
    """

    def __init__(self, scope: Construct, construct_id: str, *, table: TableSpec, bucket: BucketSpec) -> None:
        super().__init__(scope, construct_id)
        self.table = self._table(table)
        self.access_logs_bucket = self._access_logs_bucket()
        # Customer-managed, so who may read models, datasets and captures is said in IAM (each grant's
        # kms statements) and audited in CloudTrail per key, not left to S3's own key. Retained like the
        # bucket: without it, not one retained object could be read again.
        self.bucket_key = kms.Key(
            self,
            "ArtifactsKey",
            description="Encrypts the lambdaops artifacts bucket: models, datasets, captures, reports",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.bucket = self._artifacts_bucket(bucket, self.access_logs_bucket, self.bucket_key)

    def _table(self, spec: TableSpec) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            spec.logical_id,
            partition_key=_string(spec.keys.partition_key),
            sort_key=_string(spec.keys.sort_key),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        for index in spec.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_string(index.keys.partition_key),
                sort_key=_string(index.keys.sort_key),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        _fix_logical_id(table, spec.logical_id)
        return table

    def _access_logs_bucket(self) -> s3.Bucket:
        return s3.Bucket(
            self,
            "AccessLogsBucket",
            # Server access logging delivers only to SSE-S3 buckets.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(365))],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

    def _artifacts_bucket(self, spec: BucketSpec, access_logs: s3.IBucket, key: kms.IKey) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            spec.logical_id,
            versioned=True,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            # One data key per bucket, not per object: far fewer KMS requests (and throttles) for captures.
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=f"{spec.logical_id}/",
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        # Native EventBridge notifications instead of `event_bridge_enabled=True`, whose custom resource
        # adds a Lambda function (with a managed-policy role) just to call PutBucketNotification.
        cfn_bucket = bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)  # nosec B101 # narrows a type for mypy; nothing runs with -O
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                event_bridge_enabled=True
            )
        )
        _fix_logical_id(bucket, spec.logical_id)
        return bucket


def _fix_logical_id(resource: Construct, logical_id: str) -> None:
    child = resource.node.default_child
    assert isinstance(child, cdk.CfnResource)  # nosec B101 # narrows a type for mypy; nothing runs with -O
    child.override_logical_id(logical_id)
