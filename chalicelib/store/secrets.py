"""Channel credentials are sealed before they are stored: envelope encryption.

Each seal draws a fresh 256-bit data key, encrypts the credentials with AES-GCM under it, and keeps the data key
only wrapped (AES-GCM) under a 32-byte master key: in AWS an SSM Parameter Store SecureString
(`SECRETS_KEY_PARAMETER`, encrypted at rest with the AWS-managed key `aws/ssm`: no monthly key fee), read once per
cold start; in embedded mode a key file in `.data/`, created on first use. Values sealed before under the stack's
former KMS customer key (wrapper "kms", GenerateDataKey / Decrypt) still open while `SECRETS_KMS_KEY_ARN` names it
(docs/DEPLOY.md: moving off the key); each blob records its wrapper. The API never returns credentials; this keeps
them out of backups, exports and anyone's view of the table too.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from typing import Any, Protocol

from chalicelib.settings import Settings

VERSION = 1


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode())


class KeyWrapper(Protocol):
    name: str

    def new_data_key(self) -> tuple[bytes, bytes]:
        """A fresh data key: (plaintext, wrapped)."""
        ...

    def unwrap(self, wrapped: bytes) -> bytes: ...


class LocalKeyWrapper:
    """Embedded mode: the data key is wrapped with AES-GCM under a master key kept in a file."""

    name = "local"

    def __init__(self, master: bytes) -> None:
        if len(master) != 32:
            raise ValueError("the local master key must be 32 bytes")
        self._master = master

    def _master_key(self) -> bytes:
        return self._master

    @classmethod
    def from_file(cls, path: str) -> LocalKeyWrapper:
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
        with open(path, "rb") as fh:
            return cls(fh.read())

    def new_data_key(self) -> tuple[bytes, bytes]:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key, nonce = secrets.token_bytes(32), secrets.token_bytes(12)
        return key, nonce + AESGCM(self._master_key()).encrypt(nonce, key, b"zabota-data-key")

    def unwrap(self, wrapped: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(self._master_key()).decrypt(wrapped[:12], wrapped[12:], b"zabota-data-key")


class ParameterKeyWrapper(LocalKeyWrapper):
    """AWS: the master key is the base64 value of an SSM SecureString parameter (made once by infra/deploy.sh),
    fetched on first use (one GetParameter per cold start: Parameter Store's standard tier, no per-request fee)."""

    name = "ssm"

    def __init__(self, parameter: str, region: str) -> None:
        self._parameter = parameter
        self._region = region
        self._master = b""

    def _master_key(self) -> bytes:
        if not self._master:
            import boto3

            ssm = boto3.client("ssm", region_name=self._region)
            value = ssm.get_parameter(Name=self._parameter, WithDecryption=True)["Parameter"]["Value"]
            master = _unb64(value)
            if len(master) != 32:
                raise ValueError(f"{self._parameter} must hold 32 bytes, base64-encoded")
            self._master = master
        return self._master


class KmsKeyWrapper:
    """AWS: KMS makes and unwraps the data keys; the master key never leaves KMS."""

    name = "kms"

    def __init__(self, key_id: str, region: str) -> None:
        self._key_id = key_id
        self._region = region
        self._client: Any = None

    def _kms(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("kms", region_name=self._region)
        return self._client

    def new_data_key(self) -> tuple[bytes, bytes]:
        out = self._kms().generate_data_key(KeyId=self._key_id, KeySpec="AES_256",
                                            EncryptionContext={"purpose": "zabota-channel-secrets"})
        return out["Plaintext"], out["CiphertextBlob"]

    def unwrap(self, wrapped: bytes) -> bytes:
        out = self._kms().decrypt(CiphertextBlob=wrapped, EncryptionContext={"purpose": "zabota-channel-secrets"})
        return bytes(out["Plaintext"])


class SecretBox:
    """Seals with `wrapper`; opens what it sealed and what the `former` wrappers sealed (by the blob's "w")."""

    def __init__(self, wrapper: KeyWrapper, former: tuple[KeyWrapper, ...] = ()) -> None:
        self._wrapper = wrapper
        self._wrappers = {w.name: w for w in (*former, wrapper)}
        self._keys: dict[str, bytes] = {}  # a warm Lambda unwraps each data key once

    def _unwrap(self, wrapped_b64: str, name: str) -> bytes:
        if wrapped_b64 not in self._keys:
            wrapper = self._wrappers.get(name)
            if wrapper is None:
                raise ValueError(f"sealed under the {name!r} key, which is not configured here (docs/DEPLOY.md)")
            if len(self._keys) > 256:
                self._keys.clear()
            self._keys[wrapped_b64] = wrapper.unwrap(_unb64(wrapped_b64))
        return self._keys[wrapped_b64]

    @property
    def wrapper(self) -> str:
        """The wrapper new seals use."""
        return self._wrapper.name

    def sealed_by(self, blob: str) -> str:
        """The wrapper a blob was sealed under ("ssm", "kms", "local")."""
        return str(json.loads(blob).get("w", ""))

    def seal(self, values: dict[str, str], *, context: str) -> str:
        """`context` (the channel id) is bound into the ciphertext: a sealed blob moved to another channel fails."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key, wrapped = self._wrapper.new_data_key()
        nonce = secrets.token_bytes(12)
        data = AESGCM(key).encrypt(nonce, json.dumps(values).encode(), context.encode())
        return json.dumps({"v": VERSION, "w": self._wrapper.name, "k": _b64(wrapped), "n": _b64(nonce),
                           "c": _b64(data)}, separators=(",", ":"))

    def open(self, blob: str, *, context: str) -> dict[str, str]:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        sealed = json.loads(blob)
        key = self._unwrap(sealed["k"], str(sealed.get("w") or self._wrapper.name))
        values: dict[str, str] = json.loads(AESGCM(key).decrypt(_unb64(sealed["n"]), _unb64(sealed["c"]),
                                                                context.encode()))
        return values


_box: SecretBox | None = None


def configure(settings: Settings) -> None:
    """New seals: the SSM parameter's key (AWS), else a KMS key alone (a stack from before the parameter), else the
    local key file; values sealed under the KMS key open while SECRETS_KMS_KEY_ARN is set."""
    global _box
    kms = KmsKeyWrapper(settings.secrets_kms_key, settings.region) if settings.secrets_kms_key else None
    if settings.secrets_key_parameter:
        _box = SecretBox(ParameterKeyWrapper(settings.secrets_key_parameter, settings.region),
                         former=(kms,) if kms else ())
    elif kms is not None:
        _box = SecretBox(kms)
    else:
        _box = SecretBox(LocalKeyWrapper.from_file(settings.local_secrets_key_file))


def box() -> SecretBox:
    if _box is None:
        raise RuntimeError("secrets are not configured: services.deps.deps() configures them")
    return _box
