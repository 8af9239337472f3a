"""SNS adapter for `AlertPublisher`: alerts to a topic that email, chat and paging subscribe to."""

from __future__ import annotations

import json
from typing import Any

SUBJECT_LIMIT = 100  # SNS refuses longer subjects


class SnsAlerts:
    """One JSON message per alert; attributes let subscriptions filter (for example by model)."""

    def __init__(self, client: Any, topic_arn: str) -> None:
        self._sns = client
        self._topic = topic_arn

    def publish(self, subject: str, message: dict[str, Any], attributes: dict[str, str]) -> None:
        self._sns.publish(
            TopicArn=self._topic,
            Subject=subject[:SUBJECT_LIMIT],
            Message=json.dumps(message),
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
            },
        )
