"""Fixtures for integration tests: a real DynamoDB Local (in memory, free port) and dummy AWS credentials."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.local.dynamodb import DynamoDBLocal


@pytest.fixture(autouse=True)
def dummy_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a real AWS account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)


@pytest.fixture(scope="module")
def dynamodb_local() -> Iterator[DynamoDBLocal]:
    """One in-memory DynamoDB Local per test module."""
    with DynamoDBLocal(in_memory=True) as server:
        yield server
