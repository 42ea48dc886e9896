"""Request schemas say what the server accepts: the document and the validation agree."""

import pytest
from pydantic import ValidationError

from services.members.community.models import CommunityCreate, CommunityUpdate
from services.members.incentives.models import AdjustmentIn
from services.members.lifecycle.models import PurchaseIn
from services.members.tags.models import MemberIdsIn


def test_timezones_are_iana_names_with_an_example() -> None:
    for model in (CommunityCreate, CommunityUpdate):
        field = model.model_json_schema()["properties"]["timezone"]
        assert "IANA" in field["description"] and "Asia/Shanghai" in str(field)
    with pytest.raises(ValidationError):
        CommunityUpdate.model_validate({"timezone": "Mars/Olympus"})
    assert CommunityUpdate.model_validate({"timezone": "Europe/Paris"}).timezone == "Europe/Paris"


def test_currency_is_three_capitals_in_the_schema_and_the_server() -> None:
    field = PurchaseIn.model_json_schema()["properties"]["currency"]
    assert field["pattern"] == "^[A-Z]{3}$"
    with pytest.raises(ValidationError):
        PurchaseIn.model_validate({"amount": "1", "currency": "cny", "reference": "r"})
    assert PurchaseIn.model_validate({"amount": "1", "currency": "CNY", "reference": "r"})


def test_member_id_lists_are_unique_items() -> None:
    assert MemberIdsIn.model_json_schema()["properties"]["member_ids"]["uniqueItems"] is True
    with pytest.raises(ValidationError, match="each id once"):
        MemberIdsIn.model_validate({"member_ids": ["mbr_1", "mbr_1"]})


def test_points_are_bounded_to_what_the_ledger_holds() -> None:
    amount = AdjustmentIn.model_json_schema()["properties"]["amount"]
    assert amount["maximum"] == 2**31 - 1 and amount["minimum"] == -(2**31)
    with pytest.raises(ValidationError):
        AdjustmentIn.model_validate({"amount": 2**63, "reason": "x"})
