"""Settings of console tokens (JWT), read by the gateway."""

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from services.common.settings import ServiceSettings


class ConsoleTokenSettings(ServiceSettings):
    # Console tokens are refused until a secret (HS256) or a public key (RS256) is set.
    console_token_algorithm: Literal["HS256", "RS256"] = "HS256"
    # HS256: the secret shared with the console's sign-in service, at least 32 bytes.
    console_token_secret: SecretStr | None = None
    # RS256: the PEM of the sign-in service's public key (`\n` escapes are read as newlines).
    console_token_public_key: str | None = None
    console_token_issuer: str = "qunyun-console"
    console_token_audience: str = "qunyun-api"
    # Clock skew forgiven on `exp`, `nbf` and `iat`.
    console_token_leeway_seconds: float = Field(default=30, ge=0, le=300)

    @model_validator(mode="after")
    def _key_fits_the_algorithm(self) -> "ConsoleTokenSettings":
        secret = self.console_token_secret
        if self.console_token_algorithm == "HS256" and self.console_token_public_key:
            raise ValueError("console_token_public_key is for RS256; HS256 takes a secret")
        if self.console_token_algorithm == "RS256" and secret is not None:
            raise ValueError("console_token_secret is for HS256; RS256 takes a public key")
        if secret is not None and len(secret.get_secret_value().encode()) < 32:
            raise ValueError("console_token_secret must hold at least 32 bytes")
        return self
