"""API shapes of top contributors and KOL candidates."""

from sqlmodel import Field, SQLModel


class ContributorPublic(SQLModel):
    speaker: str = Field(description="The platform account, `platform:external_id`.")
    member_id: str | None = Field(description="The member behind it, when metrics knows.")
    role: str | None
    messages: int = Field(description="Member messages in the range.")
    active_days: int = Field(description="Local days of the range with at least one message.")
    replies: int = Field(description="Of the messages, replies to someone.")
    kol_candidate: bool = Field(
        description="A plain member active on at least half the range's days whose messages "
        "are in the top tenth of the community's speakers (and at least 10)."
    )


class ContributorPage(SQLModel):
    data: list[ContributorPublic]
    next_cursor: str | None
