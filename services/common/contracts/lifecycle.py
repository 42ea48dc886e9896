"""Events of the member lifecycle besides stage changes (those are in members.py)."""

from datetime import datetime

from services.common.contracts import topics
from services.common.contracts.base import EventData


class PurchaseRecorded(EventData):
    """A member bought something (recorded by an operator or a shop integration). `amount` is
    a decimal string in `currency` (ISO 4217), never a float."""

    type = "io.qunyun.member.purchase_recorded.v1"
    topic = topics.MEMBERS

    purchase_id: str
    member_id: str
    community_id: str
    amount: str
    currency: str
    reference: str
    purchased_at: datetime
    recorded_at: datetime
