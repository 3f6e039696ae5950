"""The translated template created in moto's CloudFormation: the parts moto can build come up and read back right.

moto 5.2.5 cannot create the types in `infra.moto_filter.UNSUPPORTED` (listed there with the reason); they are
dropped and references to them become placeholders. moto also ignores some properties it accepts (checked on the
template instead, in test_templates.py / test_table_specs.py): Lambda `Architectures` and `LoggingConfig`, DynamoDB
`TimeToLiveSpecification` and `PointInTimeRecoverySpecification`.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from infra.moto_filter import UNSUPPORTED, filter_for_moto

PARAMETERS = {"PublicUrl": "https://api.brand.example", "EmailDomain": "brand.example",
              "InboundEmailRecipient": "support@brand.example", "EmailChannelId": "ch_mail",
              "AlarmEmail": "ops@brand.example", "LogRetentionDays": "14"}


@pytest.fixture(scope="module")
def moto_stack(built: Any) -> Iterator[dict[str, Any]]:
    import boto3
    from moto import mock_aws

    template, dropped = filter_for_moto(built.cfn)
    with pytest.MonkeyPatch.context() as env:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}.items():
            env.setenv(name, value)
        env.delenv("AWS_PROFILE", raising=False)
        for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:  # the embedded stack's, if running
            env.delenv(name)
        with mock_aws():
            s3 = boto3.client("s3")
            s3.create_bucket(Bucket="zabota-artifacts")
            code = io.BytesIO()
            with zipfile.ZipFile(code, "w") as archive:
                archive.writestr("app.py", "app = None\n")
            s3.put_object(Bucket="zabota-artifacts", Key="deployment.zip", Body=code.getvalue())
            cloudformation = boto3.client("cloudformation")
            cloudformation.create_stack(
                StackName="zabota", TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"],
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMETERS.items()])
            described = cloudformation.describe_stacks(StackName="zabota")["Stacks"][0]
            resources = cloudformation.list_stack_resources(StackName="zabota")["StackResourceSummaries"]
            yield {"stack": described, "resources": resources, "dropped": dropped, "template": template,
                   "client": boto3.client}


def physical(created: dict[str, Any], logical_id: str) -> str:
    return str(next(r["PhysicalResourceId"] for r in created["resources"] if r["LogicalResourceId"] == logical_id))


def test_only_the_types_moto_cannot_create_are_dropped(built, moto_stack):
    dropped_types = {built.cfn["Resources"][name]["Type"] for name in moto_stack["dropped"]}
    assert dropped_types <= set(UNSUPPORTED)
    kept_types = {res["Type"] for res in moto_stack["template"]["Resources"].values()}
    assert not kept_types & set(UNSUPPORTED)
    assert {"AWS::Lambda::Function", "AWS::Lambda::EventSourceMapping", "AWS::DynamoDB::Table", "AWS::IAM::Role",
            "AWS::Events::Rule", "AWS::SQS::Queue", "AWS::S3::Bucket", "AWS::Logs::LogGroup",
            "AWS::SNS::Topic", "AWS::Lambda::Permission"} <= kept_types


def test_the_stack_is_created_with_every_kept_resource(moto_stack):
    assert moto_stack["stack"]["StackStatus"] == "CREATE_COMPLETE"
    assert len(moto_stack["resources"]) == len(moto_stack["template"]["Resources"])
    assert all(r["ResourceStatus"] == "CREATE_COMPLETE" for r in moto_stack["resources"])


def test_the_main_table_has_its_keys_indexes_and_a_stream_with_both_images(moto_stack):
    table = moto_stack["client"]("dynamodb").describe_table(TableName=physical(moto_stack, "MainTable"))["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {"pk": "HASH", "sk": "RANGE"}
    projections = {g["IndexName"]: g["Projection"]["ProjectionType"] for g in table["GlobalSecondaryIndexes"]}
    assert projections == {"gsi1": "ALL", "gsi2": "ALL", "gsi3": "ALL", "gsi4": "KEYS_ONLY", "gsi5": "KEYS_ONLY"}
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ddb = moto_stack["client"]("dynamodb")
    connections = ddb.describe_table(TableName=physical(moto_stack, "ConnectionsTable"))["Table"]
    assert [g["IndexName"] for g in connections["GlobalSecondaryIndexes"]] == ["by_workspace"]


def test_the_stream_mapping_reads_back_with_its_failure_handling(moto_stack):
    (mapping,) = moto_stack["client"]("lambda").list_event_source_mappings()["EventSourceMappings"]
    table = moto_stack["client"]("dynamodb").describe_table(TableName=physical(moto_stack, "MainTable"))["Table"]
    assert mapping["EventSourceArn"] == table["LatestStreamArn"]
    assert mapping["FunctionArn"].endswith(physical(moto_stack, "HandleStream"))
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == 10 and mapping["MaximumRecordAgeInSeconds"] == 21600
    assert mapping["StartingPosition"] == "TRIM_HORIZON" and mapping["BatchSize"] == 100
    from chalicelib.services import stream_filter

    assert mapping["FilterCriteria"] == stream_filter.filter_criteria()
    sqs = moto_stack["client"]("sqs")
    queue_url = physical(moto_stack, "StreamDLQ")
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": arn}}


def test_the_schedule_fires_the_schedule_function_every_minute(moto_stack):
    events = moto_stack["client"]("events")
    (rule,) = events.list_rules()["Rules"]
    assert rule["ScheduleExpression"] == "rate(1 minute)" and rule["State"] == "ENABLED"
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"].endswith(physical(moto_stack, "EveryMinute"))


def test_each_function_has_its_handler_its_role_and_the_table_names(moto_stack):
    lam, iam = moto_stack["client"]("lambda"), moto_stack["client"]("iam")
    expected = {"APIHandler": ("app.api", "ApiRole"), "HandleStream": ("app.handle_stream",
                                                                          "StreamRole"),
                "EveryMinute": ("app.every_minute", "ScheduleRole"),
                "WebsocketConnect": ("app.ws_connect", "WsConnectRole"),
                "WebsocketMessage": ("app.ws_message", "WsMessageRole"),
                "WebsocketDisconnect": ("app.ws_disconnect", "WsDisconnectRole"),
                "Webhook": ("app.webhook", "WebhookRole")}
    for logical, (handler, role) in expected.items():
        config = lam.get_function(FunctionName=physical(moto_stack, logical))["Configuration"]
        assert config["Handler"] == handler
        assert config["Role"] == iam.get_role(RoleName=physical(moto_stack, role))["Role"]["Arn"]
        variables = config["Environment"]["Variables"]
        assert variables["MAIN_TABLE"] == physical(moto_stack, "MainTable")
        assert variables["IDEMPOTENCY_TABLE"] == physical(moto_stack, "IdempotencyTable")
        assert variables["CONNECTIONS_TABLE"] == physical(moto_stack, "ConnectionsTable")
        assert variables["FILES_BUCKET"] == physical(moto_stack, "FilesBucket")
        assert variables["PUBLIC_URL"] == PARAMETERS["PublicUrl"]


def test_role_policies_resolve_to_the_created_resources(moto_stack):
    iam = moto_stack["client"]("iam")
    role = physical(moto_stack, "StreamRole")
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    text = json.dumps(document)
    assert physical(moto_stack, "MainTable") in text and physical(moto_stack, "IdempotencyTable") in text
    assert "ses:SendEmail" in text and "identity/brand.example" in text


def test_log_groups_keep_logs_for_the_configured_days(moto_stack):
    groups = moto_stack["client"]("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/zabota/")["logGroups"]
    assert len(groups) == 8 and all(g["retentionInDays"] == 14 for g in groups)
