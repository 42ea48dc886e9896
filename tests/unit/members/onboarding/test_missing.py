"""What the joining ritual still asks of a member."""

from hypothesis import given
from hypothesis import strategies as st

from services.members.community.settings import OnboardingSettings
from services.members.onboarding.service import RULES_ITEM, missing_from

FIELDS = ["city", "company", "title", "intro", "reason"]
answers = st.one_of(st.none(), st.just(""), st.just("  "), st.text(min_size=1, max_size=5))


@given(
    required=st.lists(st.sampled_from(FIELDS), unique=True),
    given_=st.fixed_dictionaries({f: answers for f in FIELDS}),
    require_rules=st.booleans(),
    read=st.booleans(),
)
def test_missing_is_every_unanswered_requirement_in_order(
    required: list[str], given_: dict[str, str | None], require_rules: bool, read: bool
) -> None:
    settings = OnboardingSettings(
        required_intro_fields=required,  # type: ignore[arg-type]
        require_rules_acknowledgement=require_rules,
    )
    missing = missing_from(settings=settings, given=given_, read_current_rules=read)
    fields = [m for m in missing if m != RULES_ITEM]
    assert fields == [f for f in required if not (given_[f] or "").strip()]
    assert (RULES_ITEM in missing) == (require_rules and not read)
    if RULES_ITEM in missing:
        assert missing[-1] == RULES_ITEM
