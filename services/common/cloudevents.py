"""CloudEvents 1.0 in Kafka binary mode: attributes in `ce_*` headers, JSON data in the value.

Extensions `workspaceid` and `communityid` carry the tenant; the record key is the community
id so one community's events keep their order.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from services.common.ids import new_id

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"


class MalformedEvent(ValueError):
    """A record that is not a CloudEvent this platform can read."""


@dataclass(frozen=True)
class CloudEvent:
    type: str
    source: str
    workspaceid: str
    data: dict[str, Any]
    communityid: str | None = None
    subject: str | None = None
    id: str = field(default_factory=lambda: new_id("evt"))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def key(self) -> str:
        return self.communityid or self.workspaceid

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        attributes = {
            "ce_id": self.id,
            "ce_source": self.source,
            "ce_type": self.type,
            "ce_specversion": SPECVERSION,
            "ce_time": self.time.isoformat(),
            "ce_subject": self.subject,
            "ce_workspaceid": self.workspaceid,
            "ce_communityid": self.communityid,
            "content-type": CONTENT_TYPE,
        }
        return [(k, v.encode()) for k, v in attributes.items() if v is not None]

    def kafka_value(self) -> bytes:
        return orjson.dumps(self.data)

    @classmethod
    def from_kafka(
        cls, headers: list[tuple[str, bytes]] | None, value: bytes | None
    ) -> "CloudEvent":
        attrs = {k: v.decode("utf-8", "replace") for k, v in headers or [] if v is not None}
        missing = [a for a in ("ce_id", "ce_type", "ce_source", "ce_workspaceid") if a not in attrs]
        if missing:
            raise MalformedEvent(f"missing CloudEvents headers: {', '.join(missing)}")
        if attrs.get("ce_specversion") != SPECVERSION:
            raise MalformedEvent(f"unsupported specversion {attrs.get('ce_specversion')!r}")
        try:
            data = orjson.loads(value or b"null")
            time = datetime.fromisoformat(attrs["ce_time"]) if "ce_time" in attrs else None
        except (orjson.JSONDecodeError, ValueError) as exc:
            raise MalformedEvent(str(exc)) from exc
        if not isinstance(data, dict):
            raise MalformedEvent("event data must be a JSON object")
        return cls(
            id=attrs["ce_id"],
            type=attrs["ce_type"],
            source=attrs["ce_source"],
            workspaceid=attrs["ce_workspaceid"],
            communityid=attrs.get("ce_communityid"),
            subject=attrs.get("ce_subject"),
            time=time or datetime.now(UTC),
            data=data,
        )
