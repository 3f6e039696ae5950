"""Settings read once from the environment into a frozen dataclass.

`load()` is called when dependencies are wired (services/deps.py), never at import time, so tests
can pass a plain dict. A missing required variable fails with its name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


class MissingSetting(RuntimeError):
    def __init__(self, name: str) -> None:
        super().__init__(f"environment variable {name} is required")
        self.name = name


@dataclass(frozen=True)
class Settings:
    main_table: str
    idempotency_table: str
    connections_table: str
    region: str
    stage: str  # "embedded" on a laptop, the Chalice stage name in AWS
    telegram_api_url: str
    files_bucket: str  # S3 bucket for attachments; empty in embedded mode
    files_dir: str  # embedded-mode file store
    signing_key: str  # HMAC key for short-lived file links (embedded mode)
    public_url: str  # where webhooks and links point, e.g. http://127.0.0.1:8000
    websocket_endpoint: str  # post-to-connection endpoint; empty: no live updates
    send_max_attempts: int
    send_backoff_seconds: float
    send_max_wait_seconds: float
    max_body_bytes: int
    secrets_kms_key: str  # the former KMS key: values sealed under it still open (store/secrets.py); usually empty
    local_secrets_key_file: str
    graph_api_url: str  # WhatsApp, Messenger, Instagram (CHANNELS.md §2.4)
    graph_api_version: str  # without the "v", e.g. 25.0
    ok_api_url: str  # Odnoklassniki Bot API (CHANNELS.md §5)
    vk_api_url: str  # VK API methods, `{base}/{method}` (CHANNELS.md §4)
    vk_api_version: str  # the `v` parameter and the Callback API version, e.g. 5.199

    @property
    def embedded(self) -> bool:
        return self.stage == "embedded"

    # team and access (docs/TEAM.md); fields with defaults stay last
    oidc_providers: str = ""  # OIDC_PROVIDERS: JSON list, e.g. [{"id": "google", "client_id": "...", ...}]
    oidc_fake_issuer: str = ""  # embedded mode: the built-in fake OpenID provider, offered as "local"
    mail_from: str = "Zabota <no-reply@zabota.example>"
    mail_transport: str = ""  # "ses" | "outbox"; empty: the outbox in embedded mode, SES elsewhere
    session_hours: int = 168
    login_link_minutes: int = 15
    secrets_key_parameter: str = ""  # SECRETS_KEY_PARAMETER: SSM SecureString with the secrets' master key (AWS)
    webhook_base_url: str = ""  # WEBHOOK_BASE_URL: where providers' webhooks point (the webhook function's URL in AWS)

    @property
    def webhook_base(self) -> str:
        """The origin of `{base}/api/webhooks/{kind}/{channel_id}`: WEBHOOK_BASE_URL, or PUBLIC_URL without it."""
        return self.webhook_base_url or self.public_url
    search_dir: str = ".data/search"  # embedded mode: one SQLite FTS5 file per workspace (search/engines.py)
    search_bucket: str = ""  # AWS mode: the S3 bucket of the search segments (the files bucket by default)
    export_function: str = ""  # EXPORT_FUNCTION: the export worker Lambda (AWS); empty: a thread of the runner

    @property
    def cookie_secure(self) -> bool:
        """Secure cookies everywhere except embedded mode on plain http:// (browsers would drop them there)."""
        return not (self.embedded and self.public_url.startswith("http://"))


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise MissingSetting(name)
    return value


def load(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    stage = env.get("ZABOTA_STAGE", "embedded")
    return Settings(
        main_table=_required(env, "MAIN_TABLE"),
        idempotency_table=_required(env, "IDEMPOTENCY_TABLE"),
        connections_table=_required(env, "CONNECTIONS_TABLE"),
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        stage=stage,
        telegram_api_url=env.get("TELEGRAM_API_URL", "https://api.telegram.org").rstrip("/"),
        files_bucket=env.get("FILES_BUCKET", ""),
        files_dir=env.get("FILES_DIR", ".data/files"),
        signing_key=env.get("SIGNING_KEY", "") if stage != "embedded" else env.get("SIGNING_KEY", "embedded-dev-key"),
        public_url=env.get("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
        websocket_endpoint=env.get("WEBSOCKET_ENDPOINT", "").rstrip("/"),
        send_max_attempts=int(env.get("SEND_MAX_ATTEMPTS", "5")),
        send_backoff_seconds=float(env.get("SEND_BACKOFF_SECONDS", "0.5")),
        send_max_wait_seconds=float(env.get("SEND_MAX_WAIT_SECONDS", "30")),
        max_body_bytes=int(env.get("MAX_BODY_BYTES", str(1024 * 1024))),
        secrets_kms_key=env.get("SECRETS_KMS_KEY_ARN", ""),
        local_secrets_key_file=env.get("LOCAL_SECRETS_KEY_FILE", os.path.join(".data", "secrets.key")),
        oidc_providers=env.get("OIDC_PROVIDERS", ""),
        oidc_fake_issuer=env.get("OIDC_FAKE_ISSUER", "") if stage == "embedded" else "",
        mail_from=env.get("MAIL_FROM", "Zabota <no-reply@zabota.example>"),
        mail_transport=env.get("MAIL_TRANSPORT", ""),
        session_hours=int(env.get("SESSION_HOURS", "168")),
        login_link_minutes=int(env.get("LOGIN_LINK_MINUTES", "15")),
        webhook_base_url=env.get("WEBHOOK_BASE_URL", "").rstrip("/"),
        secrets_key_parameter=env.get("SECRETS_KEY_PARAMETER", ""),
        search_dir=env.get("SEARCH_DIR", os.path.join(".data", "search")),
        search_bucket=env.get("SEARCH_BUCKET", env.get("FILES_BUCKET", "")),
        export_function=env.get("EXPORT_FUNCTION", ""),
        graph_api_url=env.get("GRAPH_API_URL", "https://graph.facebook.com").rstrip("/"),
        graph_api_version=env.get("GRAPH_API_VERSION", "25.0").lstrip("v"),
        ok_api_url=env.get("OK_API_URL", "https://api.ok.ru").rstrip("/"),
        vk_api_url=env.get("VK_API_URL", "https://api.vk.com/method").rstrip("/"),
        vk_api_version=env.get("VK_API_VERSION", "5.199"),
    )
