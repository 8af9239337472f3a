"""The REST API: one IAM-authorized method per declared route (the declared public ones excepted), proxied
to the route's function; optionally behind a WAF web ACL and API keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.options import StackOptions
from lambdaops_tools.deployment import Deployment, Route

STAGE_NAME = "v1"

IAM_NOT_COGNITO = cdk.Acknowledgment(
    id="AwsSolutions-COG4",
    reason="Callers are AWS principals (CI pipelines, Step Functions, operators) that sign requests "
    "with SigV4; every method uses IAM authorization, not a Cognito user pool.",
)

PUBLIC_REASON = (
    "A declared public route (GET /openapi.json, GET /docs): the OpenAPI document and its Swagger UI page "
    "hold the API's shape and no data, and a browser cannot sign requests with SigV4 to read them."
)

# Per client IP over WAF's 5-minute window: 3,000 is 10 requests a second sustained, well above one
# signed caller's need yet far below the stage's 100/s throttle, so one address cannot take it all.
WAF_RATE_LIMIT = 3000


def path_parameters(route: Route) -> dict[str, bool]:
    """Declared (and required) path parameters, so the request validator checks them."""
    return {
        f"method.request.path.{segment[1:-1]}": True
        for segment in route.path_segments
        if segment.startswith("{") and segment.endswith("}")
    }


class Api(Construct):
    """A throttled, logged, traced REST API whose every method but the declared public ones requires SigV4
    (IAM) signing, and with `api_keys` a key too."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
        functions: Mapping[str, lambda_.IFunction],
        options: StackOptions,
    ) -> None:
        super().__init__(scope, construct_id)
        access_logs = logs.LogGroup(self, "AccessLogs", retention=logs.RetentionDays.ONE_YEAR)
        self.rest_api = apigateway.RestApi(
            self,
            "RestApi",
            rest_api_name="lambdaops",
            description="lambdaops model registry and promotion",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # Execution logging needs the account-level CloudWatch role; say so rather than rely on a flag.
            cloud_watch_role=True,
            deploy_options=apigateway.StageOptions(
                stage_name=STAGE_NAME,
                throttling_rate_limit=deployment.api_throttle_rate,
                throttling_burst_limit=deployment.api_throttle_burst,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigateway.MethodLoggingLevel.INFO,
                data_trace_enabled=False,
            ),
        )
        validator = self.rest_api.add_request_validator(
            "RequestValidator", validate_request_body=True, validate_request_parameters=True
        )
        integrations = {
            name: apigateway.LambdaIntegration(functions[name], proxy=True)
            for name in sorted({route.function for route in deployment.routes})
        }
        for route in deployment.routes:
            method = self.rest_api.root.resource_for_path(route.path).add_method(
                route.method,
                integrations[route.function],
                authorization_type=(
                    apigateway.AuthorizationType.NONE if route.public else apigateway.AuthorizationType.IAM
                ),
                api_key_required=options.api_keys and not route.public,
                request_validator=validator,
                request_parameters=path_parameters(route),
            )
            if route.public:
                cdk.Validations.of(method).acknowledge(
                    cdk.Acknowledgment(id="AwsSolutions-APIG4", reason=PUBLIC_REASON),
                    cdk.Acknowledgment(id="AwsSolutions-COG4", reason=PUBLIC_REASON),
                )
            else:
                cdk.Validations.of(method).acknowledge(IAM_NOT_COGNITO)
        self.web_acl = self._web_acl() if options.waf else None
        self.usage_plan = self._usage_plan(deployment) if options.api_keys else None
        self._acknowledge_findings()

    def _web_acl(self) -> wafv2.CfnWebACL:
        """AWS's common and known-bad-inputs rule groups and a per-IP rate limit, on the stage."""

        def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
            )

        def managed(
            name: str, priority: int, overrides: Sequence[wafv2.CfnWebACL.RuleActionOverrideProperty] = ()
        ) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=name, rule_action_overrides=list(overrides) or None
                    )
                ),
                visibility_config=visibility(name),
            )

        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility("lambdaops-api"),
            rules=[
                managed(
                    "AWSManagedRulesCommonRuleSet",
                    0,
                    # Its 8 KB body limit would block registrations and predictions, which may send up to
                    # 10 MiB (the API's own limit, `runtime/http.py`): counted, not blocked.
                    [
                        wafv2.CfnWebACL.RuleActionOverrideProperty(
                            name="SizeRestrictions_BODY",
                            action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={}),
                        )
                    ],
                ),
                managed("AWSManagedRulesKnownBadInputsRuleSet", 1),
                wafv2.CfnWebACL.RuleProperty(
                    name="RateLimitPerIp",
                    priority=2,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=WAF_RATE_LIMIT, aggregate_key_type="IP", evaluation_window_sec=300
                        )
                    ),
                    visibility_config=visibility("RateLimitPerIp"),
                ),
            ],
        )
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.rest_api.deployment_stage.stage_arn,
            web_acl_arn=acl.attr_arn,
        )
        return acl

    def _usage_plan(self, deployment: Deployment) -> apigateway.UsagePlan:
        """One key and its plan, throttled like the stage; hand out more keys with the same plan."""
        plan = self.rest_api.add_usage_plan(
            "UsagePlan",
            name=f"{cdk.Stack.of(self).stack_name}-api",
            description="Callers of the lambdaops API; every signed route also requires a key of this plan",
            throttle=apigateway.ThrottleSettings(
                rate_limit=deployment.api_throttle_rate, burst_limit=deployment.api_throttle_burst
            ),
            api_stages=[
                apigateway.UsagePlanPerApiStage(api=self.rest_api, stage=self.rest_api.deployment_stage)
            ],
        )
        self.api_key = self.rest_api.add_api_key(
            "ApiKey", description="lambdaops API key: `aws apigateway get-api-key --include-value` reads it"
        )
        plan.add_api_key(self.api_key)
        return plan

    def _acknowledge_findings(self) -> None:
        """Each acknowledgment sits on the construct that raises its finding, not on the whole API."""
        if self.web_acl is None:
            cdk.Validations.of(self.rest_api.deployment_stage).acknowledge(
                cdk.Acknowledgment(
                    id="AwsSolutions-APIG3",
                    reason="No WAF web ACL unless `-c waf=true`: every route but the OpenAPI document and "
                    "its docs page answers only SigV4-signed IAM callers, and stage throttling bounds abuse.",
                )
            )
        cdk.Validations.of(self.rest_api.node.find_child("CloudWatchRole")).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                reason="API Gateway's account-level CloudWatch role uses the AWS-managed "
                "AmazonAPIGatewayPushToCloudWatchLogs policy, the role AWS documents for execution logs.",
            )
        )
