"""The export worker (G5): the stream only hands an export off; the worker (a thread of the runner here, its own
Lambda in AWS) claims it once, a redelivered record or a second invoke doubles nothing, and a worker that dies
is restarted by the watchdog once, then the job is failed where the console sees it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.e2e.conftest import tick
from tests.e2e.test_automation_sla import chat_id, customer_writes
from tests.support import new_workspace

pytestmark = pytest.mark.ddblocal


def job_of(ws, export_id: str) -> dict:
    resp = ws.api("GET", f"/analytics/exports/{export_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()


def stored(ws_id: str, export_id: str):
    from chalicelib.services import exports

    item = exports._get(ws_id, export_id)
    assert item is not None
    return item


def test_a_redelivered_hand_off_or_a_second_invoke_writes_the_file_once(stack, clock):
    from chalicelib.services import exports
    from chalicelib.services.deps import deps
    from chalicelib.store.models import ExportItem

    ws = new_workspace(stack)
    customer_writes(ws, chat_id(), "hello")
    job = ws.api("POST", "/analytics/exports", json={"format": "csv"}).json()
    ws.drain()
    assert stack.workers.join()
    done = job_of(ws, job["id"])
    assert done["state"] == "done" and done["rows_written"] == 1
    item = stored(ws.id, job["id"])
    assert int(item.attempts) == 1
    started: list[dict] = []
    saved, exports.local_invoker = exports.local_invoker, started.append
    try:
        exports.hand_off(deps(), ExportItem(item.pk, item.sk, workspace_id=ws.id, export_id=job["id"],
                                            state="pending"))  # the INSERT's image, delivered again
    finally:
        exports.local_invoker = saved
    assert started == []  # the watchdog is booked already: the hand-off happened
    assert exports.work(deps(), ws.id, job["id"]) == "finished"  # a second invoke finds it done
    after = stored(ws.id, job["id"])
    assert int(after.attempts) == 1 and after.finished_at == item.finished_at


def test_a_worker_holding_the_lease_keeps_the_job_and_another_invoke_returns(stack, clock):
    from chalicelib.domain.model import iso
    from chalicelib.services import exports
    from chalicelib.services.deps import deps
    from chalicelib.store.models import ExportItem

    ws = new_workspace(stack)
    saved, exports.local_invoker = exports.local_invoker, lambda payload: None  # the invoke is lost
    try:
        job = ws.api("POST", "/analytics/exports", json={"format": "csv"}).json()
        ws.drain()
    finally:
        exports.local_invoker = saved
    item = stored(ws.id, job["id"])
    assert item.state == "pending"
    item.update(actions=[ExportItem.state.set("running"), ExportItem.attempts.set(1),
                         ExportItem.lease_until.set(iso(clock() + timedelta(minutes=5)))])  # a live worker's
    assert exports.work(deps(), ws.id, job["id"]) == "taken"
    assert stored(ws.id, job["id"]).state == "running"


def test_a_worker_that_dies_is_restarted_once_by_the_watchdog_then_the_job_fails_visibly(stack, clock):
    from chalicelib.domain.model import iso
    from chalicelib.services import exports
    from chalicelib.store.models import ExportItem

    ws = new_workspace(stack)
    customer_writes(ws, chat_id(), "hello")
    saved, exports.local_invoker = exports.local_invoker, lambda payload: None  # the worker dies at once
    try:
        first = ws.api("POST", "/analytics/exports", json={"format": "csv"}).json()
        second = ws.api("POST", "/analytics/exports", json={"format": "xlsx"}).json()
        ws.drain()
    finally:
        exports.local_invoker = saved
    for job in (first, second):  # both died mid-way: running, under a lease, some rows written
        stored(ws.id, job["id"]).update(actions=[
            ExportItem.state.set("running"), ExportItem.attempts.set(1), ExportItem.rows.set(1),
            ExportItem.lease_until.set(iso(clock() + exports.LEASE))])
    stored(ws.id, second["id"]).update(actions=[ExportItem.attempts.set(exports.MAX_ATTEMPTS)])  # its last try
    clock.advance(minutes=10)
    tick()
    assert job_of(ws, first["id"])["state"] == "running"  # the lease holds: nobody takes it over yet
    clock.advance(minutes=8)  # past the lease and the watchdog's minute
    tick()
    assert stack.workers.join()
    restarted = job_of(ws, first["id"])
    assert restarted["state"] == "done" and restarted["rows_written"] == 1 and restarted["url"]
    assert int(stored(ws.id, first["id"]).attempts) == 2
    failed = job_of(ws, second["id"])
    assert failed["state"] == "failed" and "stopped" in failed["error"] and failed["url"] is None


def test_in_aws_mode_the_hand_off_invokes_the_worker_asynchronously_and_it_uploads_to_s3_behind_a_presigned_link(
        stack, clock):
    """AWS mode: the stream's hand-off is one `Event` invoke of EXPORT_FUNCTION with the job's ids (botocore's
    Stubber checks the request Lambda would get), and the worker writes the file to the files bucket (moto; the
    tables stay on DynamoDB Local) behind a presigned link."""
    import csv
    import io
    import json
    from dataclasses import replace

    import boto3
    from botocore.stub import Stubber
    from moto import mock_aws

    from chalicelib.services import exports
    from chalicelib.services.deps import Deps, deps

    ws = new_workspace(stack)
    conv = customer_writes(ws, chat_id(), "hello")
    job = ws.api("POST", "/analytics/exports", json={"format": "csv"}).json()
    local = deps()
    aws = Deps(replace(local.settings, export_function="zabota-ExportWorker", files_bucket="zabota-files"),
               clock=local.clock)
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    aws.cache["lambda"] = client
    with Stubber(client) as stub:
        stub.add_response("invoke", {"StatusCode": 202}, {
            "FunctionName": "zabota-ExportWorker", "InvocationType": "Event",
            "Payload": json.dumps({"workspace_id": ws.id, "export_id": job["id"]}).encode()})
        exports.hand_off(aws, stored(ws.id, job["id"]))
        exports.hand_off(aws, stored(ws.id, job["id"]))  # the record again: no second invoke
        stub.assert_no_pending_responses()
    with mock_aws(config={"core": {"passthrough": {"services": ["dynamodb", "dynamodbstreams"]}}}):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="zabota-files")
        assert exports.work(aws, ws.id, job["id"]) == "done"
        done = exports.export_json(aws, stored(ws.id, job["id"]))
        key = stored(ws.id, job["id"]).file_key
        body = s3.get_object(Bucket="zabota-files", Key=key)
    assert key.startswith(f"exports/{ws.id}/{job['id']}/")  # where the worker's role may write
    assert done["state"] == "done" and "Signature=" in done["url"] and "zabota-files" in done["url"]
    assert body["ContentType"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(body["Body"].read().decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == [conv]
    ws.drain()  # the stream's own hand-off of the same record: booked already, nothing starts
    assert stack.workers.join()
    assert int(stored(ws.id, job["id"]).attempts) == 1
