from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from services.common.cloudevents import CloudEvent

CONTRACTS: dict[str, type["EventData"]] = {}


class EventData(BaseModel):
    """The data of one event type; subclasses name their CloudEvents `type` and topic."""

    # Tolerant reader: a consumer ignores fields it does not know.
    model_config = ConfigDict(extra="ignore", frozen=True)

    type: ClassVar[str]
    topic: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "type" in cls.__dict__:
            if cls.type in CONTRACTS:
                raise TypeError(f"event type {cls.type} is defined twice")
            CONTRACTS[cls.type] = cls

    def to_event(
        self, *, source: str, workspace_id: str, community_id: str | None, subject: str | None
    ) -> CloudEvent:
        return CloudEvent(
            type=self.type,
            source=source,
            workspaceid=workspace_id,
            communityid=community_id,
            subject=subject,
            data=self.model_dump(mode="json"),
        )

    @classmethod
    def of(cls, event: CloudEvent) -> "EventData":
        """Parse an event's data with the contract of its type."""
        return CONTRACTS[event.type].model_validate(event.data)


def topic_of(event_type: str) -> str:
    return CONTRACTS[event_type].topic
