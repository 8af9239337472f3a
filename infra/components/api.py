"""The REST API: one IAM-authorized method per declared route, proxied to the route's function."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from lambdaops_tools.deployment import Deployment, Route

STAGE_NAME = "v1"

IAM_NOT_COGNITO = cdk.Acknowledgment(
    id="AwsSolutions-COG4",
    reason="Callers are AWS principals (CI pipelines, Step Functions, operators) that sign requests "
    "with SigV4; every method uses IAM authorization, not a Cognito user pool.",
)


def path_parameters(route: Route) -> dict[str, bool]:
    """Declared (and required) path parameters, so the request validator checks them."""
    return {
        f"method.request.path.{segment[1:-1]}": True
        for segment in route.path_segments
        if segment.startswith("{") and segment.endswith("}")
    }


class Api(Construct):
    """A throttled, logged, traced REST API whose every method requires SigV4 (IAM) signing."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
        functions: Mapping[str, lambda_.IFunction],
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
                authorization_type=apigateway.AuthorizationType.IAM,
                request_validator=validator,
                request_parameters=path_parameters(route),
            )
            cdk.Validations.of(method).acknowledge(IAM_NOT_COGNITO)
        self._acknowledge_findings()

    def _acknowledge_findings(self) -> None:
        """Each acknowledgment sits on the construct that raises its finding, not on the whole API."""
        cdk.Validations.of(self.rest_api.deployment_stage).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-APIG3",
                reason="No WAF web ACL: the API only answers SigV4-signed IAM callers, and stage "
                "throttling bounds abuse; add a web ACL if it is ever opened to unsigned traffic.",
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
