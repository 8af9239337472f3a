"""What a deployment switches on with `cdk deploy -c key=value`, read and checked once at synth."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from constructs import Construct

# A plausible address, not RFC 5322: the point is to refuse a stray comma or a missing domain at synth,
# since SNS would only say so by never confirming the subscription.
EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")


def _flag(value: Any, key: str) -> bool:
    """`-c waf=true` arrives as the text "true"; a JSON context file may give a boolean."""
    if value is None or value is False or value == "false":
        return False
    if value is True or value == "true":
        return True
    raise ValueError(f"context {key} must be true or false, not {value!r}")


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _emails(value: str) -> tuple[str, ...]:
    emails = tuple(part.strip() for part in value.split(",") if part.strip())
    for email in emails:
        if not EMAIL.match(email):
            raise ValueError(f"context alert_emails: {email!r} is not an e-mail address")
    return emails


def _webhook(value: str) -> str | None:
    if not value:
        return None
    parts = urlsplit(value)
    # SNS signs nothing it sends to http://, and alerts name models and versions: https only.
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"context alert_webhook must be an https:// URL with a host, not {value!r}")
    return value


@dataclass(frozen=True)
class StackOptions:
    waf: bool = False
    """A WAF web ACL on the API stage: AWS managed common and known-bad-inputs rules, and a rate limit."""
    api_keys: bool = False
    """Every signed route also requires an API key, metered by a usage plan."""
    alert_emails: tuple[str, ...] = ()
    alert_webhook: str | None = None
    slack_workspace_id: str | None = None
    slack_channel_id: str | None = None

    @classmethod
    def of(cls, scope: Construct) -> StackOptions:
        """The options the app's context sets; a value that cannot be right stops the synth."""
        context = scope.node.try_get_context
        workspace = _text(context("slack_workspace_id")) or None
        channel = _text(context("slack_channel_id")) or None
        if (workspace is None) != (channel is None):
            raise ValueError(
                "context slack_workspace_id and slack_channel_id go together: set both or neither"
            )
        return cls(
            waf=_flag(context("waf"), "waf"),
            api_keys=_flag(context("api_keys"), "api_keys"),
            alert_emails=_emails(_text(context("alert_emails"))),
            alert_webhook=_webhook(_text(context("alert_webhook"))),
            slack_workspace_id=workspace,
            slack_channel_id=channel,
        )
