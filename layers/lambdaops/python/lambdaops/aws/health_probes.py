"""What `GET /health` reads of S3 and CloudWatch: one cheap call each, raising when the service does not
answer or refuses (the table's probe is the registry store's one-item listing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def bucket_probe(client: Any, bucket: str) -> Callable[[], object]:
    """HeadBucket: the bucket exists and this role may list it (s3:ListBucket)."""
    return lambda: client.head_bucket(Bucket=bucket)


def cloudwatch_probe(client: Any, namespace: str, metric: str) -> Callable[[], object]:
    """One page of ListMetrics for one metric name: what `GET /metrics` starts with."""
    return lambda: client.list_metrics(Namespace=namespace, MetricName=metric)
