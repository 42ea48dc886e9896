from pydantic import Field

from gateway.webhooks.settings import WebhookSettings


class GatewaySettings(WebhookSettings):
    members_url: str = "http://127.0.0.1:8001"
    content_url: str = "http://127.0.0.1:8002"
    events_url: str = "http://127.0.0.1:8003"
    metrics_url: str = "http://127.0.0.1:8004"
    upstream_timeout_seconds: float = Field(default=10, gt=0)

    # Until the API-key system arrives, the gateway knows one workspace and its key.
    bootstrap_workspace_id: str = "ws_demo"
    bootstrap_api_key: str | None = None

    # Per API key, per gateway replica.
    rate_limit_per_second: float = Field(default=50, gt=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    max_body_bytes: int = Field(default=1_048_576, ge=1)
