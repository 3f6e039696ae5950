"""Create or migrate the tables (idempotent). Used by `make run`, the CLI and tests; infra/ declares the same
shape for AWS (a test keeps the two in step)."""

from __future__ import annotations

from typing import Any

import boto3

from chalicelib.settings import Settings

GSIS = ("gsi1", "gsi2", "gsi3", "gsi4", "gsi5")
KEYS_ONLY = ("gsi4", "gsi5")  # conversations by assignee, by contact: a message moves nothing there


def main_table_spec(name: str) -> dict[str, Any]:
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}]
    gsis = []
    for g in GSIS:
        attrs += [{"AttributeName": f"{g}pk", "AttributeType": "S"}, {"AttributeName": f"{g}sk", "AttributeType": "S"}]
        gsis.append(_gsi(g, f"{g}pk", f"{g}sk"))
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": attrs,
        "GlobalSecondaryIndexes": gsis,
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }


def idempotency_table_spec(name: str) -> dict[str, Any]:
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    }


def connections_table_spec(name: str) -> dict[str, Any]:
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "connection_id", "KeyType": "HASH"}],
        "AttributeDefinitions": [
            {"AttributeName": "connection_id", "AttributeType": "S"},
            {"AttributeName": "workspace_id", "AttributeType": "S"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "by_workspace",
                "KeySchema": [
                    {"AttributeName": "workspace_id", "KeyType": "HASH"},
                    {"AttributeName": "connection_id", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    }


TTL_ATTRIBUTE = {"main": "expires_at", "idempotency": "expiration", "connections": "expires_at"}


def _gsi(name: str, hash_key: str, range_key: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"}, {"AttributeName": range_key, "KeyType": "RANGE"}],
        "Projection": {"ProjectionType": "KEYS_ONLY" if name in KEYS_ONLY else "ALL"},
    }


def migrate(settings: Settings, client: Any = None) -> list[str]:
    """Create missing tables, add missing GSIs, enable TTL. Returns what it changed."""
    ddb = client or boto3.client("dynamodb", region_name=settings.region)
    specs = {
        "main": main_table_spec(settings.main_table),
        "idempotency": idempotency_table_spec(settings.idempotency_table),
        "connections": connections_table_spec(settings.connections_table),
    }
    existing = set(_all_tables(ddb))
    changes: list[str] = []
    for role, spec in specs.items():
        name = spec["TableName"]
        if name not in existing:
            ddb.create_table(**spec)
            ddb.get_waiter("table_exists").wait(TableName=name)
            changes.append(f"created {name}")
        else:
            changes += _add_missing_indexes(ddb, spec)
        changes += _ensure_ttl(ddb, name, TTL_ATTRIBUTE[role])
    return changes


def _all_tables(ddb: Any) -> list[str]:
    names: list[str] = []
    for page in ddb.get_paginator("list_tables").paginate():
        names += page["TableNames"]
    return names


def _add_missing_indexes(ddb: Any, spec: dict[str, Any]) -> list[str]:
    table = ddb.describe_table(TableName=spec["TableName"])["Table"]
    have = {g["IndexName"] for g in table.get("GlobalSecondaryIndexes", [])}
    changes = []
    for gsi in spec.get("GlobalSecondaryIndexes", []):
        if gsi["IndexName"] in have:
            continue
        ddb.update_table(
            TableName=spec["TableName"],
            AttributeDefinitions=spec["AttributeDefinitions"],
            GlobalSecondaryIndexUpdates=[{"Create": gsi}],
        )
        changes.append(f"added index {gsi['IndexName']} to {spec['TableName']}")
    return changes


def _ensure_ttl(ddb: Any, name: str, attribute: str) -> list[str]:
    status = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if status.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        return []
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute})
    return [f"enabled TTL on {name}"]
