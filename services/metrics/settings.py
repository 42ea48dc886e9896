"""Settings of the metrics service alone, read from `QUNYUN_METRICS_*` environment variables
(those every process shares are in `services.common.settings`)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MetricsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUNYUN_METRICS_", extra="ignore")

    # How long chat and activity wait for a group or community nobody has registered yet
    # before they are forgotten: long enough for any redeploy or replay, short enough that chat
    # of groups no operator ever registers does not pile up.
    parked_retention_days: float = Field(default=7, gt=0)
