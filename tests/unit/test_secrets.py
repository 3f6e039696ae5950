"""Channel credentials are sealed with envelope encryption (local master key here; KMS through moto)."""

from __future__ import annotations

import json

import boto3
import pytest
from cryptography.exceptions import InvalidTag
from moto import mock_aws

from chalicelib.store.secrets import KmsKeyWrapper, LocalKeyWrapper, SecretBox


def test_a_sealed_blob_hides_the_values_and_opens_with_the_same_context(tmp_path):
    box = SecretBox(LocalKeyWrapper.from_file(str(tmp_path / "k")))
    blob = box.seal({"bot_token": "123:SECRET"}, context="CH#a")
    assert "SECRET" not in blob and json.loads(blob)["w"] == "local"
    assert box.open(blob, context="CH#a") == {"bot_token": "123:SECRET"}
    with pytest.raises(InvalidTag):
        box.open(blob, context="CH#b")  # moved to another channel: refused


def test_each_seal_uses_a_fresh_data_key(tmp_path):
    box = SecretBox(LocalKeyWrapper.from_file(str(tmp_path / "k")))
    first, second = (json.loads(box.seal({"a": "b"}, context="x")) for _ in range(2))
    assert first["k"] != second["k"] and first["c"] != second["c"]


def test_the_local_key_file_is_created_once_and_reused(tmp_path):
    path = str(tmp_path / "dir" / "k")
    blob = SecretBox(LocalKeyWrapper.from_file(path)).seal({"a": "b"}, context="x")
    assert SecretBox(LocalKeyWrapper.from_file(path)).open(blob, context="x") == {"a": "b"}
    assert (tmp_path / "dir" / "k").stat().st_mode & 0o077 == 0


def test_kms_wraps_the_data_key_in_aws(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        key_id = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
        box = SecretBox(KmsKeyWrapper(key_id, "us-east-1"))
        blob = box.seal({"page_access_token": "EAAG-secret"}, context="CH#m")
        assert json.loads(blob)["w"] == "kms" and "EAAG" not in blob
        assert SecretBox(KmsKeyWrapper(key_id, "us-east-1")).open(blob, context="CH#m") == {
            "page_access_token": "EAAG-secret"}
