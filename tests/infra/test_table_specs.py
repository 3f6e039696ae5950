"""The tables of the merge template and `chalicelib/store/schema.py` (what embedded mode creates) cannot drift."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.store import schema

TABLES = {  # logical id -> (the spec embedded mode creates, TTL_ATTRIBUTE key, the environment variable)
    "MainTable": (schema.main_table_spec, "main", "MAIN_TABLE"),
    "IdempotencyTable": (schema.idempotency_table_spec, "idempotency", "IDEMPOTENCY_TABLE"),
    "ConnectionsTable": (schema.connections_table_spec, "connections", "CONNECTIONS_TABLE"),
}


def keys(schema_list: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in schema_list]


def indexes(spec: dict[str, Any]) -> dict[str, tuple[list[tuple[str, str]], str]]:
    return {g["IndexName"]: (keys(g["KeySchema"]), g["Projection"]["ProjectionType"])
            for g in spec.get("GlobalSecondaryIndexes", [])}


def attributes(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(a["AttributeName"], a["AttributeType"]) for a in spec["AttributeDefinitions"]}


@pytest.mark.parametrize("logical_id", sorted(TABLES))
def test_the_template_table_matches_the_schema_spec(built, logical_id):
    make_spec, ttl_key, _ = TABLES[logical_id]
    spec = make_spec("any-name")
    props = built.resource(logical_id)["Properties"]
    assert keys(props["KeySchema"]) == keys(spec["KeySchema"])
    assert attributes(props) == attributes(spec)
    assert indexes(props) == indexes(spec)
    assert props["BillingMode"] == spec["BillingMode"]
    stream = spec.get("StreamSpecification", {})
    assert props.get("StreamSpecification", {}).get("StreamViewType") == stream.get("StreamViewType")
    assert props["TimeToLiveSpecification"] == {"AttributeName": schema.TTL_ATTRIBUTE[ttl_key], "Enabled": True}


@pytest.mark.parametrize("logical_id", sorted(TABLES))
def test_every_function_gets_the_table_name_in_the_variable_settings_reads(built, logical_id):
    variable = TABLES[logical_id][2]
    for name, function in built.of_type("AWS::Lambda::Function").items():
        assert function["Properties"]["Environment"]["Variables"][variable] == {"Ref": logical_id}, name


def test_the_schema_declares_no_table_the_template_lacks(built):
    declared = {name[: -len("_table_spec")] for name in dir(schema) if name.endswith("_table_spec")}
    assert declared == {key for _, key, _ in TABLES.values()} == set(schema.TTL_ATTRIBUTE)
    assert set(built.of_type("AWS::DynamoDB::Table")) == set(TABLES)


def test_the_main_table_keeps_point_in_time_recovery_and_survives_stack_deletion(built):
    table = built.resource("MainTable")
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
