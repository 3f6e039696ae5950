"""The baseline: bare PutItem calls on the same DynamoDB Local, into a table shaped like the main table.

The table copies the main table's keys, indexes and stream setting (so DynamoDB Local does the same work per
write) but nothing reads its stream. Items are copies of a real stored inbound item (same size), new keys each.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from botocore.config import Config

BARE_TABLE = "zabota-bench-bare"
_keys = itertools.count()


def client(endpoint: str, pool: int = 32) -> Any:
    """A boto3 DynamoDB client for DynamoDB Local (dummy credentials, one attempt, a pool for threads)."""
    import boto3

    config = Config(connect_timeout=2, read_timeout=30, retries={"max_attempts": 1}, max_pool_connections=pool)
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", config=config,
                        aws_access_key_id="embedded", aws_secret_access_key="embedded")


def create_table_like(ddb: Any, source_table: str, name: str = BARE_TABLE) -> str:
    """Create `name` with the key schema, GSIs and stream specification of `source_table` (once)."""
    if name in ddb.list_tables()["TableNames"]:
        return name
    source = ddb.describe_table(TableName=source_table)["Table"]
    spec: dict[str, Any] = {
        "TableName": name, "KeySchema": source["KeySchema"], "AttributeDefinitions": source["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    gsis = [{"IndexName": g["IndexName"], "KeySchema": g["KeySchema"], "Projection": g["Projection"]}
            for g in source.get("GlobalSecondaryIndexes", [])]
    if gsis:
        spec["GlobalSecondaryIndexes"] = gsis
    if source.get("StreamSpecification"):
        spec["StreamSpecification"] = source["StreamSpecification"]
    ddb.create_table(**spec)
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    return name


def sample_inbound_item(ddb: Any, table: str) -> dict[str, Any]:
    """One item the webhook stored (a customer's message under its pointer, or an `IN#` event), as the template of
    the bare puts."""
    kwargs: dict[str, Any] = {"TableName": table, "FilterExpression": "#t IN (:t, :q)",
                              "ExpressionAttributeNames": {"#t": "type"},
                              "ExpressionAttributeValues": {":t": {"S": "inbound"}, ":q": {"S": "inmsg"}}}
    while True:
        page = ddb.scan(**kwargs)
        if page.get("Items"):
            return dict(page["Items"][0])
        if "LastEvaluatedKey" not in page:
            raise RuntimeError("no inbound item stored yet to copy")
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def item_size(item: dict[str, Any]) -> int:
    """Approximate DynamoDB item size: names plus string/number values."""
    return sum(len(k) + len(str(next(iter(v.values())))) for k, v in item.items())


def put(ddb: Any, template: dict[str, Any], table: str = BARE_TABLE) -> float:
    """One conditional PutItem (like the webhook's) of a copy of `template` with a new key; returns seconds."""
    item = {**template, "pk": {"S": f"IN#bench:{next(_keys)}"}}
    started = time.perf_counter()
    ddb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
    return time.perf_counter() - started
