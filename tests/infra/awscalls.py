"""Which AWS calls each Lambda function makes, and whether its role allows them.

`AwsCallRecorder` hooks botocore (`before-parameter-build`, emitted by every API call and by presigning) on every
client, existing or created while installed: pynamodb's per-model clients, Powertools' idempotency client, the
live-push client. Each call is attributed to the Lambda function whose handler is outermost on the calling thread's
stack (the same code objects the runner invokes), so setup code and the emulated event source mapping are left out.
Calls become (function, IAM action, resource ARN) triples: `TransactWriteItems` becomes one triple per item
(`dynamodb:TransactWriteItems` is not an IAM action), presigned GETs become `s3:GetObject`.

`PolicyResolver` resolves the intrinsics of the translated template's role policies with the physical names of
the stack under test (the embedded tables, the emulated WebSocket API), so statements compare with real ARNs.
"""

from __future__ import annotations

import functools
import gc
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from types import CodeType
from typing import Any
from urllib.parse import urlsplit

import botocore.client
import botocore.session

REGION = "us-east-1"
ACCOUNT = "123456789012"
EVENT = "before-parameter-build"

# our attribution label -> the template's logical id of that function
FUNCTIONS = {
    "api_handler": "APIHandler",
    "handle_stream": "HandleStream",
    "every_minute": "EveryMinute",
    "ws_connect": "WebsocketConnect",
    "ws_message": "WebsocketMessage",
    "ws_disconnect": "WebsocketDisconnect",
    "webhook": "Webhook",
    "export_worker": "ExportWorker",
}

# DynamoDB item actions in transactions -> IAM action (a transaction is authorised item by item)
_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem",
             "Get": "GetItem"}
_IAM_PREFIX = {"apigatewaymanagementapi": "execute-api", "sesv2": "ses", "dynamodbstreams": "dynamodb"}


@dataclass(frozen=True)
class Call:
    function: str
    action: str  # IAM action, e.g. dynamodb:PutItem
    resource: str  # ARN
    operation: str  # the API operation, e.g. TransactWriteItems
    service: str  # botocore service name


def handler_codes(handlers: dict[str, Any], app: Any) -> dict[CodeType, str]:
    """Code objects that mark "this thread runs that Lambda function" (handlers as in `app.handler_map`)."""
    codes: dict[CodeType, str] = {type(app).__call__.__code__: "api_handler"}
    for name, handler in handlers.items():
        if name == "api_handler" or name not in FUNCTIONS:  # route views run inside the API handler
            continue
        func = getattr(handler, "func", handler)  # Chalice's EventSourceHandler wraps the user function
        func = getattr(func, "_original_func", func)  # ... and PureLambdaWrapper a plain Lambda function
        func = getattr(func, "__wrapped__", func)
        codes[func.__code__] = name
    return codes


class AwsCallRecorder:
    """Records every botocore call with the function it runs under (`calls`); `outside` counts the rest."""

    def __init__(self, codes: dict[CodeType, str], websocket_api_id: str) -> None:
        self._codes = codes
        self._websocket_api_id = websocket_api_id
        self._lock = threading.Lock()
        self._hooked: dict[int, Any] = {}
        self._original: Any = None
        self.calls: list[Call] = []
        self.services: set[str] = set()
        self.outside = 0

    def __enter__(self) -> AwsCallRecorder:
        self._original = botocore.session.Session.create_client
        original, recorder = self._original, self

        def create_client(session: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            recorder.hook(client)
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
        for obj in gc.get_objects():
            if isinstance(obj, botocore.client.BaseClient):
                self.hook(obj)
        return self

    def __exit__(self, *exc: object) -> None:
        botocore.session.Session.create_client = self._original  # type: ignore[method-assign]
        for key, client in list(self._hooked.items()):
            client.meta.events.unregister(EVENT, unique_id=f"aws-call-recorder-{id(self)}-{key}")
        self._hooked.clear()

    def hook(self, client: Any) -> None:
        key = id(client)
        if key in self._hooked:
            return
        handler = functools.partial(self._on_call, client)
        client.meta.events.register(EVENT, handler, unique_id=f"aws-call-recorder-{id(self)}-{key}")
        self._hooked[key] = client

    def _function(self) -> str | None:
        """The outermost handler on the stack: Lambda's entry point (the webhook function calls the app inside)."""
        frame = sys._getframe(2)
        found = None
        while frame is not None:
            found = self._codes.get(frame.f_code, found)
            frame = frame.f_back  # type: ignore[assignment]
        return found

    def _on_call(self, client: Any, params: dict[str, Any], model: Any, **_: Any) -> None:
        function = self._function()
        service = client.meta.service_model.service_name
        with self._lock:
            if function is None:
                self.outside += 1
                return
            self.services.add(service)
            for action, resource in to_iam(service, model.name, params, client.meta.endpoint_url,
                                           self._websocket_api_id):
                self.calls.append(Call(function, action, resource, model.name, service))


def to_iam(service: str, operation: str, params: dict[str, Any], endpoint: str, websocket_api_id: str
           ) -> Iterator[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs one API call needs."""
    prefix = _IAM_PREFIX.get(service, service)
    if service == "dynamodb":
        yield from _dynamodb(operation, params)
    elif service == "s3":
        yield f"s3:{operation}", f"arn:aws:s3:::{params.get('Bucket', '')}/{params.get('Key', '')}"
    elif service == "apigatewaymanagementapi":
        api_id, stage = _execute_api(endpoint, websocket_api_id)
        method = {"PostToConnection": "POST", "GetConnection": "GET", "DeleteConnection": "DELETE"}[operation]
        yield ("execute-api:ManageConnections",
               f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/{stage}/{method}/@connections/{params['ConnectionId']}")
    elif service == "sesv2" and operation == "SendEmail":
        sender = str(params.get("FromEmailAddress", "")).rsplit("@", 1)[-1].strip(">")
        yield "ses:SendEmail", f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{sender}"
    elif service == "sesv2" and operation == "GetEmailIdentity":
        yield "ses:GetEmailIdentity", f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{params.get('EmailIdentity', '')}"
    else:
        yield f"{prefix}:{operation}", "*"  # unmapped: only a statement with Resource "*" would allow it


def _table_arn(table: str, index: str | None = None) -> str:
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"
    return f"{arn}/index/{index}" if index else arn


def _dynamodb(operation: str, params: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if operation in ("TransactWriteItems", "TransactGetItems"):
        for item in params.get("TransactItems", []):
            for kind, body in item.items():
                yield f"dynamodb:{_TRANSACT[kind]}", _table_arn(body["TableName"])
    elif operation == "BatchWriteItem":  # its own IAM action (the Service Authorization Reference), per table
        for table in params.get("RequestItems", {}):
            yield "dynamodb:BatchWriteItem", _table_arn(table)
    elif operation == "BatchGetItem":
        for table in params.get("RequestItems", {}):
            yield "dynamodb:BatchGetItem", _table_arn(table)
    else:
        yield f"dynamodb:{operation}", _table_arn(params.get("TableName", ""), params.get("IndexName"))


def _execute_api(endpoint: str, websocket_api_id: str) -> tuple[str, str]:
    """(api id, stage) of a management endpoint; the embedded emulation stands for the stack's WebSocket API."""
    parts = urlsplit(endpoint)
    host, path = parts.hostname or "", parts.path.strip("/")
    if host.endswith(".amazonaws.com") and ".execute-api." in host:
        return host.split(".", 1)[0], path.split("/", 1)[0]
    return websocket_api_id, "api"


# ------------------------------------------------------------------------------------------- the policies

@dataclass(frozen=True)
class Statement:
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    sid: str = ""

    def allows(self, action: str, resource: str) -> bool:
        return (any(fnmatchcase(action.lower(), a.lower()) for a in self.actions)
                and any(fnmatchcase(resource, r) for r in self.resources))


class PolicyResolver:
    """Evaluates the intrinsics of a CloudFormation template for given physical names and parameter values."""

    def __init__(self, template: dict[str, Any], physical: dict[str, str], parameters: dict[str, str]) -> None:
        self.template = template
        self.resources: dict[str, Any] = template["Resources"]
        self.physical = physical
        self.parameters = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
        self.parameters.update(parameters)
        self.conditions = {name: self._condition(expr) for name, expr in template.get("Conditions", {}).items()}

    # values

    def ref(self, name: str) -> str:
        pseudo = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                  "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "zabota"}
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name]
        return name.lower()

    def get_att(self, name: str, attribute: str) -> str:
        kind = self.resources[name]["Type"]
        ref = self.ref(name)
        if kind == "AWS::DynamoDB::Table":
            return {"Arn": _table_arn(ref), "StreamArn": _table_arn(ref) + "/stream/2026-01-01T00:00:00.000"}[attribute]
        if kind == "AWS::Logs::LogGroup":
            group = self.value(self.resources[name]["Properties"]["LogGroupName"])
            return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*"
        if kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{ref}"
        if kind == "AWS::SQS::Queue":
            return {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{ref}", "QueueName": ref}[attribute]
        if kind == "AWS::KMS::Key":
            return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{ref}"
        if kind == "AWS::IAM::Role":
            return f"arn:aws:iam::{ACCOUNT}:role/{ref}"
        if kind == "AWS::Lambda::Function":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{ref}"
        raise KeyError(f"no ARN rule for {kind}.{attribute}")

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return _NO_VALUE if arg == "AWS::NoValue" else self.ref(arg)
            if key == "Fn::GetAtt":
                name, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
                return self.get_att(name, attribute)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::If":
                condition, yes, no = arg
                return self.value(yes if self.conditions[condition] else no)
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(str(v) for v in self.value(items))
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not _NO_VALUE}

    def _sub(self, arg: Any) -> str:
        import re

        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.value(arg[1]))

        def swap(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return self.get_att(resource, attribute)
            return self.ref(name)

        return re.sub(r"\$\{([^}!]+)\}", swap, text)

    def _condition(self, expr: Any) -> bool:
        (key, arg), = expr.items()
        if key == "Fn::Equals":
            return bool(str(self.value(arg[0])) == str(self.value(arg[1])))
        if key == "Fn::Not":
            return not self._condition(arg[0])
        if key == "Fn::And":
            return all(self._condition(a) for a in arg)
        if key == "Fn::Or":
            return any(self._condition(a) for a in arg)
        if key == "Condition":
            return self._condition(self.template["Conditions"][arg])
        raise KeyError(key)

    # policies

    def role_of(self, function_logical_id: str) -> str:
        role = self.resources[function_logical_id]["Properties"]["Role"]
        return str(role["Fn::GetAtt"][0] if isinstance(role["Fn::GetAtt"], list) else role["Fn::GetAtt"].split(".")[0])

    def statements(self, function_logical_id: str) -> list[Statement]:
        role = self.resources[self.role_of(function_logical_id)]
        found = []
        for policy in role["Properties"].get("Policies", []):
            for raw in self.value(policy["PolicyDocument"])["Statement"]:
                if raw.get("Effect") != "Allow":
                    continue
                found.append(Statement(_tuple(raw["Action"]), _tuple(raw["Resource"]), raw.get("Sid", "")))
        return found


class _NoValue:
    pass


_NO_VALUE = _NoValue()


def _tuple(value: str | Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def allowed(statements: Iterable[Statement], action: str, resource: str) -> bool:
    return any(s.allows(action, resource) for s in statements)

