"""Channel credentials are sealed before they are stored: envelope encryption.

Each seal draws a fresh 256-bit data key, encrypts the credentials with AES-GCM under it, and keeps the data key
only in wrapped form: by KMS in AWS (`SECRETS_KMS_KEY_ARN`; GenerateDataKey / Decrypt), by a local master key in
embedded mode (a 32-byte key file in `.data/`, created on first use). The API never returns credentials; this
keeps them out of backups, exports and anyone's view of the table too.
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
        return key, nonce + AESGCM(self._master).encrypt(nonce, key, b"zabota-data-key")

    def unwrap(self, wrapped: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(self._master).decrypt(wrapped[:12], wrapped[12:], b"zabota-data-key")


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
    def __init__(self, wrapper: KeyWrapper) -> None:
        self._wrapper = wrapper
        self._keys: dict[str, bytes] = {}  # a warm Lambda unwraps each data key once (one KMS Decrypt)

    def _unwrap(self, wrapped_b64: str) -> bytes:
        if wrapped_b64 not in self._keys:
            if len(self._keys) > 256:
                self._keys.clear()
            self._keys[wrapped_b64] = self._wrapper.unwrap(_unb64(wrapped_b64))
        return self._keys[wrapped_b64]

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
        key = self._unwrap(sealed["k"])
        values: dict[str, str] = json.loads(AESGCM(key).decrypt(_unb64(sealed["n"]), _unb64(sealed["c"]),
                                                                context.encode()))
        return values


_box: SecretBox | None = None


def configure(settings: Settings) -> None:
    global _box
    if settings.secrets_kms_key:
        _box = SecretBox(KmsKeyWrapper(settings.secrets_kms_key, settings.region))
    else:
        _box = SecretBox(LocalKeyWrapper.from_file(settings.local_secrets_key_file))


def box() -> SecretBox:
    if _box is None:
        raise RuntimeError("secrets are not configured: services.deps.deps() configures them")
    return _box
