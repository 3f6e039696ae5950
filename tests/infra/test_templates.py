"""The packaged template: cfn-lint on SAM and on plain CloudFormation, and what the merge template must guarantee."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from infra.package import aws_env

FUNCTIONS = ("APIHandler", "HandleStream", "EveryMinute", "WebsocketConnect", "WebsocketMessage", "WebsocketDisconnect",
             "Webhook", "ExportWorker")
ESM = "HandleStreamHandleStreamDynamodbEventSource"


def lint(template: dict[str, Any]) -> list[str]:
    from cfnlint.api import ManualArgs
    from cfnlint.api import lint as cfn_lint

    return [str(match) for match in cfn_lint(json.dumps(template), config=ManualArgs(regions=["us-east-1"]))]


def statements(built: Any, role: str) -> list[dict[str, Any]]:
    return [s for policy in built.resource(role)["Properties"]["Policies"]
            for s in policy["PolicyDocument"]["Statement"]]


def test_packaging_finds_no_credentials_to_use_and_a_region():
    env = aws_env({"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s", "AWS_PROFILE": "prod", "PATH": "/bin"})
    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_PROFILE" not in env
    assert env["AWS_EC2_METADATA_DISABLED"] == "true" and env["AWS_DEFAULT_REGION"]
    assert env["AWS_SHARED_CREDENTIALS_FILE"] == env["AWS_CONFIG_FILE"]  # the null device


def test_cfn_lint_finds_nothing_in_the_sam_template(built):
    assert built.sam["Transform"] == "AWS::Serverless-2016-10-31"
    assert lint(built.sam) == []


def test_cfn_lint_finds_nothing_in_the_translated_template(built):
    assert "Transform" not in built.cfn
    assert lint(built.cfn) == []


def test_the_translated_lint_catches_what_the_sam_lint_misses(built):
    bad = copy.deepcopy(built.cfn)
    bad["Resources"][ESM]["Properties"]["MaximumRetryAttempts"] = 50_000
    actions = statements(built, "StreamRole")[3]["Action"]
    bad["Resources"]["StreamRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][3]["Action"] = [
        *actions, "dynamodb:TransactWriteItems"]
    found = " ".join(lint(bad))
    assert "E3034" in found and "50000" in found
    assert "W3037" in found and "transactwriteitems" in found


def test_every_function_runs_on_arm64_with_its_own_role_and_log_group(built):
    roles, groups = set(), set()
    for name in FUNCTIONS:
        props = built.resource(name)["Properties"]
        assert built.resource(name)["Type"] == "AWS::Lambda::Function"
        assert props["Architectures"] == ["arm64"] and props["Runtime"] == "python3.11"
        roles.add(props["Role"]["Fn::GetAtt"][0])
        groups.add(props["LoggingConfig"]["LogGroup"]["Ref"])
        assert {"MAIN_TABLE", "IDEMPOTENCY_TABLE", "CONNECTIONS_TABLE", "WEBSOCKET_ENDPOINT", "FILES_BUCKET",
                "PUBLIC_URL"} <= set(props["Environment"]["Variables"])
    assert len(roles) == len(FUNCTIONS) and len(groups) == len(FUNCTIONS)
    for group in groups:
        assert built.resource(group)["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert not built.of_type("AWS::IAM::Policy"), "policies live inline in each role (created before its users)"


def test_every_function_logs_json_without_lambdas_per_invocation_lines(built):
    for name in FUNCTIONS:
        logging = built.resource(name)["Properties"]["LoggingConfig"]
        assert logging["LogFormat"] == "JSON", name  # needed for the levels below
        assert logging["SystemLogLevel"] == "WARN", name  # START / END / REPORT are INFO system events
        assert logging["ApplicationLogLevel"] == "INFO", name
        assert built.resource(name)["Properties"]["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"] == "INFO"


def test_webhooks_have_a_function_url_of_their_own_that_the_channel_functions_register(built):
    url = built.resource("WebhookUrl")
    assert url["Type"] == "AWS::Lambda::Url"
    assert url["Properties"]["AuthType"] == "NONE" and url["Properties"]["TargetFunctionArn"] == {"Ref": "Webhook"}
    permissions = {(p["Properties"]["Action"], p["Properties"].get("FunctionUrlAuthType"),
                    p["Properties"].get("InvokedViaFunctionUrl"))
                   for p in built.of_type("AWS::Lambda::Permission").values()
                   if p["Properties"]["FunctionName"] == {"Ref": "Webhook"}}
    # since October 2025 a public URL needs both; InvokeFunction only through the URL
    assert permissions == {("lambda:InvokeFunctionUrl", "NONE", None), ("lambda:InvokeFunction", None, True)}
    webhook = built.resource("Webhook")["Properties"]
    assert webhook["Handler"] == "app.webhook"
    assert "WEBHOOK_BASE_URL" not in webhook["Environment"]["Variables"]  # its own URL would be a cycle
    for name in ("APIHandler", "HandleStream", "EveryMinute"):
        variables = built.resource(name)["Properties"]["Environment"]["Variables"]
        assert variables["WEBHOOK_BASE_URL"] == {"Fn::GetAtt": ["WebhookUrl", "FunctionUrl"]}, name
    assert webhook["ReservedConcurrentExecutions"] == {
        "Fn::If": ["HasWebhookConcurrency", {"Ref": "WebhookConcurrency"}, {"Ref": "AWS::NoValue"}]}
    assert built.cfn["Outputs"]["WebhookUrl"]["Value"] == {"Fn::GetAtt": ["WebhookUrl", "FunctionUrl"]}
    # no route of the REST API or CloudFront is in front of it
    assert not [p for p in built.of_type("AWS::Lambda::Permission").values()
                if p["Properties"]["FunctionName"] == {"Ref": "Webhook"}
                and p["Properties"]["Principal"] != "*"]


def test_the_stream_reports_partial_failures_bisects_and_gives_up_into_a_queue(built):
    esm = built.resource(ESM)["Properties"]
    assert esm["EventSourceArn"] == {"Fn::GetAtt": ["MainTable", "StreamArn"]}
    assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert esm["BisectBatchOnFunctionError"] is True
    assert 0 < esm["MaximumRetryAttempts"] <= 20 and 60 <= esm["MaximumRecordAgeInSeconds"] <= 86_400
    assert esm["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["StreamDLQ", "Arn"]}
    alarm = built.resource("StreamDLQAlarm")["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["StreamDLQ", "QueueName"]}


def test_the_stream_mapping_filters_out_what_the_handler_ignores_with_the_list_the_pump_uses(built):
    from chalicelib.services import stream_filter

    filters = built.resource(ESM)["Properties"]["FilterCriteria"]["Filters"]
    assert [json.loads(f["Pattern"]) for f in filters] == stream_filter.patterns()
    assert 1 <= len(filters) <= 5 and all(len(f["Pattern"]) <= 4096 for f in filters)
    patterns = json.dumps(stream_filter.patterns())
    assert '"message"' in patterns and '"anx"' not in patterns and '"recentin"' not in patterns


def test_the_stream_role_can_send_to_the_failure_queue_before_the_mapping_exists(built):
    # inline in the role the function uses: the ESM depends on the function, the function on the role
    send = [s for s in statements(built, "StreamRole") if s.get("Action") == "sqs:SendMessage"]
    assert send and send[0]["Resource"] == {"Fn::GetAtt": ["StreamDLQ", "Arn"]}
    assert built.resource("HandleStream")["Properties"]["Role"] == {"Fn::GetAtt": ["StreamRole", "Arn"]}


def test_cloudfront_serves_the_api_under_api_from_the_api_function_s_url_which_only_it_may_call(built):
    assert not built.of_type("AWS::ApiGateway::RestApi") and not built.of_type("AWS::ApiGateway::Stage")
    assert "RestAPI" not in json.dumps(built.cfn) and "execute-api:Invoke" not in json.dumps(built.cfn)
    url = built.resource("APIHandlerUrl")["Properties"]
    assert url["AuthType"] == "AWS_IAM" and url["TargetFunctionArn"] == {"Ref": "APIHandler"}
    assert built.resource("APIHandler")["Properties"]["Handler"] == "app.api"
    distribution = {"Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/"
                               "${FrontendDistribution}"}
    permissions = {(p["Properties"]["Action"], p["Properties"]["Principal"], p["Properties"].get("FunctionUrlAuthType"),
                    p["Properties"].get("InvokedViaFunctionUrl"), json.dumps(p["Properties"].get("SourceArn")))
                   for p in built.of_type("AWS::Lambda::Permission").values()
                   if p["Properties"]["FunctionName"] == {"Ref": "APIHandler"}}
    assert permissions == {
        ("lambda:InvokeFunctionUrl", "cloudfront.amazonaws.com", "AWS_IAM", None, json.dumps(distribution)),
        ("lambda:InvokeFunction", "cloudfront.amazonaws.com", None, True, json.dumps(distribution))}
    config = built.resource("FrontendDistribution")["Properties"]["DistributionConfig"]
    origins = {o["Id"]: o for o in config["Origins"]}
    assert origins["api"]["DomainName"] == {"Fn::Select": [2, {"Fn::Split": ["/", {
        "Fn::GetAtt": ["APIHandlerUrl", "FunctionUrl"]}]}]}
    assert origins["api"]["OriginAccessControlId"] == {"Fn::GetAtt": ["ApiOAC", "Id"]}
    oac = built.resource("ApiOAC")["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"], oac["SigningProtocol"]) == (
        "lambda", "always", "sigv4")
    (api,) = [b for b in config["CacheBehaviors"] if b["PathPattern"] == "/api/*"]
    assert api["TargetOriginId"] == "api" and "POST" in api["AllowedMethods"]
    assert api["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # caching disabled
    assert api["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # all viewer headers but Host
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == "frontend"
    assert origins["frontend"]["OriginAccessControlId"] == {"Fn::GetAtt": ["FrontendOAC", "Id"]}
    assert built.cfn["Outputs"]["ApiFunctionUrl"]["Value"] == {"Fn::GetAtt": ["APIHandlerUrl", "FunctionUrl"]}
    assert not {"EndpointURL", "RestAPIId", "ApiUrl"} & set(built.cfn["Outputs"])


def test_buckets_are_private_and_only_cloudfront_reads_the_console(built):
    for name in ("FilesBucket", "FrontendBucket"):
        block = built.resource(name)["Properties"]["PublicAccessBlockConfiguration"]
        assert all(block[k] is True for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls",
                                              "RestrictPublicBuckets"))
    (statement,) = built.resource("FrontendBucketPolicy")["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"} and statement["Action"] == "s3:GetObject"
    assert "FrontendDistribution" in json.dumps(statement["Condition"])


def test_email_resources_exist_only_when_the_email_parameters_are_set(built):
    for name in ("InboundMailTopic", "InboundMailSubscription", "InboundMailRule", "InboundMailRuleSet"):
        assert built.resource(name)["Condition"] == "HasInboundEmail"
    subscription = built.resource("InboundMailSubscription")["Properties"]
    assert subscription["Protocol"] == "https"
    text, variables = subscription["Endpoint"]["Fn::Sub"]
    assert text == "https://${Host}/api/webhooks/email/${EmailChannelId}"  # the webhook function's URL
    assert variables["Host"] == {"Fn::Select": [2, {"Fn::Split": ["/", {"Fn::GetAtt": ["WebhookUrl", "FunctionUrl"]}]}]}
    assert built.resource("InboundMailTopic")["Properties"]["SignatureVersion"] == "2"
    (action,) = built.resource("InboundMailRule")["Properties"]["Rule"]["Actions"]
    assert action["SNSAction"]["TopicArn"] == {"Ref": "InboundMailTopic"}
    assert built.resource("MailIdentity")["Condition"] == "HasEmailDomain"


def test_nothing_bills_by_the_hour_when_idle(built):
    for name, table in built.of_type("AWS::DynamoDB::Table").items():
        assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST", name
    for name, function in built.of_type("AWS::Lambda::Function").items():
        assert "ProvisionedConcurrencyConfig" not in function["Properties"], name
    assert not built.of_type("AWS::Lambda::Version") and not built.of_type("AWS::EC2::NatGateway")


@pytest.mark.parametrize("alarm", ["StreamDLQAlarm", "StreamIteratorAgeAlarm", "ServerErrorsAlarm"])
def test_each_alarm_notifies_the_alarm_topic_and_stays_quiet_without_data(built, alarm):
    props = built.resource(alarm)["Properties"]
    assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert props["TreatMissingData"] == "notBreaching"


def test_idle_the_stack_pays_for_four_alarm_metrics_and_no_kms_key(built):
    assert not built.of_type("AWS::KMS::Key") and not built.of_type("AWS::KMS::Alias")
    metrics = 0
    for alarm in built.of_type("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        metrics += sum(1 for m in props["Metrics"] if "MetricStat" in m) if "Metrics" in props else 1
    from bench.deploy_bench import ASSUMED, PRICES

    assert metrics == ASSUMED["alarm_metrics"] == 4  # what the cost model bills, $0.10 each a month
    assert metrics * PRICES["alarm_metric_month"] + PRICES["ssm_standard_parameter_month"] <= 0.45
    server = built.resource("ServerErrorsAlarm")["Properties"]
    watched = sorted(json.dumps(m["MetricStat"]["Metric"], sort_keys=True) for m in server["Metrics"]
                     if "MetricStat" in m)
    assert watched == sorted(json.dumps({"Namespace": "AWS/Lambda", "MetricName": "Url5xxCount", "Dimensions": [
        {"Name": "FunctionName", "Value": {"Ref": name}}]}, sort_keys=True) for name in ("APIHandler", "Webhook"))


def test_the_channel_secrets_master_key_is_read_from_its_parameter_by_the_functions_that_seal_or_open(built):
    parameter = ("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${AWS::StackName}"
                 "/channel-secrets-key")
    for role in ("ApiRole", "StreamRole", "ScheduleRole", "WebhookRole"):
        found = [s for s in statements(built, role) if isinstance(s, dict) and s.get("Sid") == "ChannelSecrets"]
        assert found == [{"Sid": "ChannelSecrets", "Effect": "Allow", "Action": "ssm:GetParameter",
                          "Resource": {"Fn::Sub": parameter}}], role
        former = [s for s in statements(built, role) if "Fn::If" in s]
        assert {"Fn::If": ["HasLegacySecretsKey", {"Sid": "FormerChannelSecretsKey", "Effect": "Allow",
                                                   "Action": "kms:Decrypt", "Resource": {"Ref": "LegacySecretsKeyArn"}},
                           {"Ref": "AWS::NoValue"}]} in former, role
    for role in ("WsConnectRole", "WsMessageRole", "WsDisconnectRole"):
        assert "channel-secrets-key" not in json.dumps(built.resource(role)), role
    variables = built.resource("APIHandler")["Properties"]["Environment"]["Variables"]
    assert variables["SECRETS_KEY_PARAMETER"] == {"Fn::Sub": "/${AWS::StackName}/channel-secrets-key"}
    assert variables["SECRETS_KMS_KEY_ARN"] == {"Fn::If": ["HasLegacySecretsKey", {"Ref": "LegacySecretsKeyArn"}, ""]}


def test_exports_run_in_a_function_of_their_own_that_the_stream_and_the_schedule_may_start(built):
    worker = built.resource("ExportWorker")["Properties"]
    assert worker["Handler"] == "app.export_worker"
    assert worker["Timeout"] == 900 and worker["MemorySize"] == 1024
    configs = [c["Properties"] for c in built.of_type("AWS::Lambda::EventInvokeConfig").values()
               if c["Properties"]["FunctionName"] == {"Ref": "ExportWorker"}]
    assert [c["MaximumRetryAttempts"] for c in configs] == [0]  # the watchdog restarts a job, not Lambda
    for function, role in (("HandleStream", "StreamRole"), ("EveryMinute", "ScheduleRole")):
        variables = built.resource(function)["Properties"]["Environment"]["Variables"]
        assert variables["EXPORT_FUNCTION"] == {"Ref": "ExportWorker"}, function
        invoke = [s for s in statements(built, role) if s.get("Action") == "lambda:InvokeFunction"]
        assert [s["Resource"] for s in invoke] == [{"Fn::GetAtt": ["ExportWorker", "Arn"]}], role
    granted = {a for s in statements(built, "ExportWorkerRole")
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert granted == {"logs:CreateLogStream", "logs:PutLogEvents", "dynamodb:GetItem", "dynamodb:UpdateItem",
                       "dynamodb:Query", "s3:PutObject", "s3:AbortMultipartUpload"}
    files = next(s for s in statements(built, "ExportWorkerRole") if s["Sid"] == "ExportFiles")
    assert files["Resource"] == {"Fn::Sub": "${FilesBucket.Arn}/exports/*"}
