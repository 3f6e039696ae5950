"""Schemathesis over `/api/openapi.json` against the embedded stack: no operation answers 5xx, and every answer
is one the document declares (status, content type, body schema, `Allow` on 405).

Each operation gets `EXAMPLES` generated requests (valid and invalid ones, derandomized, no example database),
sent over HTTP with an admin's API key of a workspace that has a conversation, so the console's routes get
past authentication and reach the guard and the views. The counts are printed at the end of the run.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    allow_header_conformance,
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.counts import COUNTS
from tests.support import customer_message, new_workspace

pytestmark = pytest.mark.ddblocal

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "6"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          allow_header_conformance]


@pytest.fixture(scope="session")
def api_world(stack: Any) -> Any:
    ws = new_workspace(stack)
    ws.post_update(customer_message(7_000_000 + secrets.randbelow(10**6), "fuzz me"))
    ws.drain()
    return ws


@pytest.mark.timeout(900)
def test_no_operation_answers_5xx_and_every_answer_matches_the_document(stack: Any, api_world: Any) -> None:
    schema = schemathesis.openapi.from_url(f"{stack.url}/api/openapi.json")
    tally = COUNTS.setdefault("api (schemathesis)", {"examples": 0, "operations": 0, "4xx": 0, "5xx": 0})
    failures: list[str] = []
    (conv,) = api_world.conversations()
    message = api_world.messages(conv["id"])[0]
    known = {"conversation_id": conv["id"], "message_id": message["id"], "channel_id": api_world.channel_id,
             "contact_id": conv["contact_id"], "kind": "telegram"}
    for result in schema.get_all_operations():
        operation = result.ok()
        tally["operations"] += 1
        names = {p.name for p in operation.path_parameters}
        runs: list[tuple[str, GenerationMode, dict[str, str] | None]] = [
            ("positive", GenerationMode.POSITIVE, None), ("negative", GenerationMode.NEGATIVE, None)]
        if names and names <= set(known):  # and once on the workspace's real ids, to get past the lookups
            runs.append(("positive, real ids", GenerationMode.POSITIVE, {n: known[n] for n in names}))
        for label, mode, path_parameters in runs:
            failure = _fuzz(operation, mode, path_parameters, stack.url, api_world.key, tally)
            if failure:
                failures.append(f"{operation.label} ({label}): {failure}")
    assert tally["operations"] > 50, "the document lists almost nothing: nothing was fuzzed"
    assert not failures, "\n".join(failures)


def _fuzz(operation: Any, mode: GenerationMode, path_parameters: dict[str, str] | None, base_url: str, key: str,
          tally: dict[str, int]) -> str:
    """EXAMPLES requests of one operation in one mode; the first failure (shrunk by Hypothesis) or ""."""

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        tally["examples"] += 1
        if response.status_code >= 500:
            tally["5xx"] += 1
        elif response.status_code >= 400:
            tally["4xx"] += 1
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        return ""  # nothing to make invalid (no parameters, no body): the positive run covered it
    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every operation is tried, all are reported
        return f"{type(exc).__name__}: {str(exc)[:1500]}"
    return ""
