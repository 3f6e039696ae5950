"""Attachment storage behind one small interface: S3 in AWS, a folder (`.data/files`) in embedded mode.

The console gets short-lived links: S3 presigned URLs in AWS, HMAC-signed `/_files/<token>` links served by the
local runner in embedded mode.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from typing import Any, Protocol

from chalicelib.errors import Forbidden, NotFound

LINK_SECONDS = 900
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    cleaned = _SAFE.sub("_", os.path.basename(name or "file")).strip("._") or "file"
    return cleaned[:120]


class FileStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def put_file(self, key: str, path: str, content_type: str) -> None: ...  # streamed from disk (exports)

    def get(self, key: str) -> tuple[bytes, str]: ...

    def link(self, key: str, *, file_name: str, seconds: int = LINK_SECONDS) -> str: ...

    def keys(self, prefix: str) -> Iterator[str]: ...


class LocalFileStore:
    def __init__(self, root: str, signing_key: str, public_url: str) -> None:
        self._root = os.path.abspath(root)
        self._key = signing_key.encode()
        self._public = public_url

    def _path(self, key: str) -> str:
        path = os.path.abspath(os.path.join(self._root, key))
        if not path.startswith(self._root + os.sep):
            raise Forbidden("bad file key")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        with open(path + ".meta", "w") as fh:
            json.dump({"content_type": content_type}, fh)

    def put_file(self, key: str, path: str, content_type: str) -> None:
        target = self._path(key)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(path, target + ".tmp")
        os.replace(target + ".tmp", target)
        with open(target + ".meta", "w") as fh:
            json.dump({"content_type": content_type}, fh)

    def get(self, key: str) -> tuple[bytes, str]:
        path = self._path(key)
        if not os.path.exists(path):
            raise NotFound("file not found")
        with open(path, "rb") as fh:
            data = fh.read()
        try:
            with open(path + ".meta") as fh:
                ctype = json.load(fh)["content_type"]
        except (OSError, ValueError, KeyError):
            ctype = "application/octet-stream"
        return data, ctype

    def keys(self, prefix: str) -> Iterator[str]:
        """Every stored key under `prefix` (e.g. `<workspace>/`), sorted: the backup export reads them."""
        base = self._path(prefix.rstrip("/"))
        folder = base if prefix.endswith("/") else os.path.dirname(base)
        found: list[str] = []
        for root, _dirs, names in os.walk(folder):
            for name in names:
                if name.endswith((".meta", ".tmp")):
                    continue
                key = os.path.relpath(os.path.join(root, name), self._root).replace(os.sep, "/")
                if key.startswith(prefix):
                    found.append(key)
        yield from sorted(found)

    def link(self, key: str, *, file_name: str, seconds: int = LINK_SECONDS) -> str:
        payload = json.dumps({"k": key, "e": int(time.time()) + seconds, "n": file_name}, separators=(",", ":"))
        body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
        sig = hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{self._public}/_files/{body}.{sig}"

    def open_link(self, token: str, *, now: float | None = None) -> tuple[bytes, str, str]:
        """Check a link's signature and expiry; returns (data, content type, file name)."""
        body, _, sig = token.partition(".")
        want = hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()[:32]
        if not sig or not hmac.compare_digest(sig, want):
            raise Forbidden("invalid file link")
        payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if payload["e"] < (now or time.time()):
            raise Forbidden("file link expired")
        data, ctype = self.get(payload["k"])
        return data, ctype, payload.get("n", "file")


class S3FileStore:
    def __init__(self, bucket: str, client: Any) -> None:
        self._bucket = bucket
        self._s3 = client

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=data, ContentType=content_type)

    def put_file(self, key: str, path: str, content_type: str) -> None:
        self._s3.upload_file(path, self._bucket, key, ExtraArgs={"ContentType": content_type})  # multipart

    def get(self, key: str) -> tuple[bytes, str]:
        try:
            obj = self._s3.get_object(Bucket=self._bucket, Key=key)
        except self._s3.exceptions.NoSuchKey as err:
            raise NotFound("file not found") from err
        return obj["Body"].read(), obj.get("ContentType", "application/octet-stream")

    def keys(self, prefix: str) -> Iterator[str]:
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                yield str(obj["Key"])

    def link(self, key: str, *, file_name: str, seconds: int = LINK_SECONDS) -> str:
        return str(self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": key,
                    "ResponseContentDisposition": f'attachment; filename="{safe_name(file_name)}"'},
            ExpiresIn=seconds,
        ))
