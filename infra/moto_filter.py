"""Make the translated template deployable in moto's CloudFormation: drop the resource types moto cannot create.

Only the unsupported resources themselves go (UNSUPPORTED, checked against moto 5.2.5; each entry says why).
Whatever refers to them stays and gets a placeholder string in place of the `Ref` / `Fn::GetAtt` / `${...}`, so
the functions, roles, tables and the stream mapping are still created with everything else they reference;
`DependsOn` entries and Outputs that name a dropped resource are removed.
"""

from __future__ import annotations

import copy
import re
from typing import Any

UNSUPPORTED: dict[str, str] = {
    "AWS::ApiGatewayV2::Api": "no moto CloudFormation model",
    "AWS::ApiGatewayV2::Deployment": "no moto CloudFormation model",
    "AWS::ApiGatewayV2::Integration": "no moto CloudFormation model",
    "AWS::ApiGatewayV2::Route": "no moto CloudFormation model",
    "AWS::ApiGatewayV2::Stage": "no moto CloudFormation model",
    "AWS::CloudFront::Distribution": "no moto CloudFormation model",
    "AWS::CloudFront::OriginAccessControl": "no moto CloudFormation model",
    "AWS::CloudWatch::Alarm": "no moto CloudFormation model",
    "AWS::Lambda::Url": "no moto CloudFormation model (the webhook and API functions' URLs)",
    "AWS::S3::BucketPolicy": "no moto CloudFormation model",
    "AWS::SES::EmailIdentity": "no moto CloudFormation model",
    "AWS::SES::ReceiptRule": "no moto CloudFormation model",
    "AWS::SES::ReceiptRuleSet": "no moto CloudFormation model",
    "AWS::SNS::Subscription": "no moto CloudFormation model",
    "AWS::SNS::TopicPolicy": "no moto CloudFormation model",
    "AWS::SQS::QueuePolicy": "no moto CloudFormation model",
}

_SUB_REF = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.([A-Za-z0-9.]+))?\}")


def placeholder(logical_id: str, attribute: str = "") -> str:
    return f"moto-dropped-{logical_id}" + (f"-{attribute}" if attribute else "")


def filter_for_moto(cfn: dict[str, Any], unsupported: dict[str, str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """(the template without the unsupported resources, the logical ids dropped)."""
    types = UNSUPPORTED if unsupported is None else unsupported
    template = copy.deepcopy(cfn)
    resources: dict[str, Any] = template.get("Resources", {})
    dropped = sorted(name for name, res in resources.items() if res.get("Type") in types)
    gone = set(dropped)
    for name in dropped:
        del resources[name]
    for name, resource in list(resources.items()):
        resources[name] = _replace(resource, gone)
        depends = resources[name].get("DependsOn")
        if depends is not None:
            kept = [d for d in ([depends] if isinstance(depends, str) else depends) if d not in gone]
            if kept:
                resources[name]["DependsOn"] = kept
            else:
                del resources[name]["DependsOn"]
    outputs = template.get("Outputs", {})
    for name in [n for n, out in outputs.items() if _refers_to(out, gone)]:
        del outputs[name]
    return template, dropped


def _replace(node: Any, gone: set[str]) -> Any:
    if isinstance(node, list):
        return [_replace(item, gone) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and node["Ref"] in gone:
        return placeholder(node["Ref"])
    if set(node) == {"Fn::GetAtt"}:
        target = node["Fn::GetAtt"]
        name, attr = (target.split(".", 1) if isinstance(target, str) else target)
        if name in gone:
            return placeholder(name, attr)
    if set(node) == {"Fn::Sub"}:
        return {"Fn::Sub": _replace_sub(node["Fn::Sub"], gone)}
    return {key: _replace(value, gone) for key, value in node.items()}


def _replace_sub(value: Any, gone: set[str]) -> Any:
    def swap(match: re.Match[str]) -> str:
        name, attr = match.group(1), match.group(2) or ""
        return placeholder(name, attr) if name in gone else match.group(0)

    if isinstance(value, str):
        return _SUB_REF.sub(swap, value)
    text, variables = value
    return [_SUB_REF.sub(swap, text), _replace(variables, gone)]


def _refers_to(node: Any, gone: set[str]) -> bool:
    if isinstance(node, list):
        return any(_refers_to(item, gone) for item in node)
    if isinstance(node, dict):
        if node.get("Ref") in gone:
            return True
        target = node.get("Fn::GetAtt")
        if target is not None:
            name = target.split(".", 1)[0] if isinstance(target, str) else target[0]
            if name in gone:
                return True
        sub = node.get("Fn::Sub")
        if sub is not None:
            text = sub if isinstance(sub, str) else sub[0]
            if any(m.group(1) in gone for m in _SUB_REF.finditer(text)):
                return True
        return any(_refers_to(value, gone) for value in node.values())
    return False
