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


def _aws(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name in [n for n in __import__("os").environ if n.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)


def _master_parameter(name: str = "/zabota/channel-secrets-key") -> str:
    import base64
    import secrets

    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name=name, Type="SecureString", Value=base64.b64encode(secrets.token_bytes(32)).decode())
    return name


def test_in_aws_the_master_key_is_an_ssm_secure_string_read_once_per_process(monkeypatch):
    from chalicelib.store.secrets import ParameterKeyWrapper

    _aws(monkeypatch)
    with mock_aws():
        name = _master_parameter()
        reads = []
        boto3.client("ssm", region_name="us-east-1")  # the wrapper's own client is counted below
        wrapper = ParameterKeyWrapper(name, "us-east-1")
        original = wrapper._master_key.__func__  # type: ignore[attr-defined]

        def counted(self):
            reads.append(bool(self._master))
            return original(self)

        monkeypatch.setattr(ParameterKeyWrapper, "_master_key", counted)
        box = SecretBox(wrapper)
        blobs = [box.seal({"bot_token": f"1:SECRET{i}"}, context=f"CH#{i}") for i in range(5)]
        assert all(json.loads(b)["w"] == "ssm" and "SECRET" not in b for b in blobs)
        assert [box.open(b, context=f"CH#{i}") for i, b in enumerate(blobs)] == [
            {"bot_token": f"1:SECRET{i}"} for i in range(5)]
        assert reads.count(False) == 1  # fetched once, then kept
        fresh = SecretBox(ParameterKeyWrapper(name, "us-east-1"))  # another cold start, same parameter
        assert fresh.open(blobs[0], context="CH#0") == {"bot_token": "1:SECRET0"}


def test_values_sealed_under_the_former_kms_key_still_open_and_new_ones_go_to_the_parameter(monkeypatch):
    from chalicelib.store.secrets import ParameterKeyWrapper

    _aws(monkeypatch)
    with mock_aws():
        key_id = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
        old = SecretBox(KmsKeyWrapper(key_id, "us-east-1")).seal({"access_token": "OLD"}, context="CH#o")
        name = _master_parameter()
        box = SecretBox(ParameterKeyWrapper(name, "us-east-1"), former=(KmsKeyWrapper(key_id, "us-east-1"),))
        assert box.open(old, context="CH#o") == {"access_token": "OLD"}
        assert box.sealed_by(old) == "kms" and box.sealed_by(box.seal({"a": "b"}, context="x")) == "ssm"
        without_former = SecretBox(ParameterKeyWrapper(name, "us-east-1"))
        with pytest.raises(ValueError, match="'kms' key"):
            without_former.open(old, context="CH#o")


def test_configure_picks_the_parameter_then_a_lone_kms_key_then_the_local_file(tmp_path, monkeypatch):
    from dataclasses import replace

    from chalicelib import settings as settings_module
    from chalicelib.store import secrets as secrets_module

    monkeypatch.setattr(secrets_module, "_box", secrets_module._box)  # restored afterwards

    base = settings_module.load({"MAIN_TABLE": "m", "IDEMPOTENCY_TABLE": "i", "CONNECTIONS_TABLE": "c",
                                 "LOCAL_SECRETS_KEY_FILE": str(tmp_path / "k")})
    cases = [(replace(base, secrets_key_parameter="/p", secrets_kms_key="arn:k"), "ssm", {"ssm", "kms"}),
             (replace(base, secrets_key_parameter="/p"), "ssm", {"ssm"}),
             (replace(base, secrets_kms_key="arn:k"), "kms", {"kms"}),
             (base, "local", {"local"})]
    for settings, primary, known in cases:
        secrets_module.configure(settings)
        box = secrets_module.box()
        assert box._wrapper.name == primary and set(box._wrappers) == known
