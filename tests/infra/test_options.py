"""Context flags are read once and checked: a value that cannot work stops the synth with a clear error."""

from __future__ import annotations

from typing import Any

import pytest

from infra.options import StackOptions


def options(**context: Any) -> StackOptions:
    import aws_cdk as cdk

    return StackOptions.of(cdk.App(context=context))


def test_no_context_switches_nothing_on() -> None:
    assert options() == StackOptions()
    assert options().alert_emails == () and options().alert_webhook is None


def test_flags_and_channels_are_read_from_context() -> None:
    read = options(
        waf="true",
        api_keys=True,
        alert_emails=" ops@example.com,ml@example.co.uk , ",
        alert_webhook="https://hooks.example.com/x?token=1",
        slack_workspace_id="T0123ABCD",
        slack_channel_id="C0123ABCD",
    )
    assert (read.waf, read.api_keys) == (True, True)
    assert read.alert_emails == ("ops@example.com", "ml@example.co.uk")
    assert read.alert_webhook == "https://hooks.example.com/x?token=1"
    assert (read.slack_workspace_id, read.slack_channel_id) == ("T0123ABCD", "C0123ABCD")
    assert options(waf="false").waf is False


@pytest.mark.parametrize(
    "webhook", ["http://hooks.example.com/x", "hooks.example.com/x", "https://", "ftp://example.com/x"]
)
def test_a_webhook_that_is_not_https_is_refused(webhook: str) -> None:
    with pytest.raises(ValueError, match="alert_webhook must be an https:// URL"):
        options(alert_webhook=webhook)


def test_the_stack_refuses_an_http_webhook_at_synth() -> None:
    import aws_cdk as cdk

    from infra.stack import LambdaopsStack

    app = cdk.App(context={"alert_webhook": "http://hooks.example.com/x"})
    with pytest.raises(ValueError, match="https"):
        LambdaopsStack(app, "Refused")


@pytest.mark.parametrize("emails", ["ops@example.com,not-an-address", "ops@example", "a b@example.com"])
def test_an_address_that_is_not_an_email_is_refused(emails: str) -> None:
    with pytest.raises(ValueError, match="alert_emails"):
        options(alert_emails=emails)


@pytest.mark.parametrize("half", [{"slack_workspace_id": "T0123ABCD"}, {"slack_channel_id": "C0123ABCD"}])
def test_slack_needs_both_the_workspace_and_the_channel(half: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="slack_workspace_id and slack_channel_id go together"):
        options(**half)


def test_a_flag_that_is_neither_true_nor_false_is_refused() -> None:
    with pytest.raises(ValueError, match="context waf must be true or false"):
        options(waf="yes")
