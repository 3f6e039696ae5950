"""The environment of embedded mode: the same variables the Lambda functions get from infra/."""

from __future__ import annotations

import os

from chalicelib.local import fakes

TABLES = {
    "MAIN_TABLE": "zabota-main",
    "IDEMPOTENCY_TABLE": "zabota-idempotency",
    "CONNECTIONS_TABLE": "zabota-connections",
}


def embedded_environ(*, port: int, ddb_port: int, data_dir: str, host: str = "127.0.0.1") -> dict[str, str]:
    base = f"http://{host}:{port}"
    ddb = f"http://{host}:{ddb_port}"
    return {
        **TABLES,
        "ZABOTA_STAGE": "embedded",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "embedded",
        "AWS_SECRET_ACCESS_KEY": "embedded",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL_DYNAMODB": ddb,
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": ddb,
        **fakes.environ(base),
        "WEBSOCKET_ENDPOINT": f"{base}/_ws",
        "PUBLIC_URL": base,
        "FILES_DIR": os.path.join(data_dir, "files"),
        "SEARCH_DIR": os.path.join(data_dir, "search"),
        "LOCAL_SECRETS_KEY_FILE": os.path.join(data_dir, "secrets.key"),
        "POWERTOOLS_SERVICE_NAME": "inbox",
        "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
    }


def apply(env: dict[str, str]) -> None:
    """Set the variables in this process (before the app's clients are first built)."""
    os.environ.update(env)
