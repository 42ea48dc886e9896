"""What members can tell a client went wrong, each kind defined once (the kit's named problems)
and raised by name; fields are the document's extension members."""

from services.common.http.problems import NamesItsField, NoParameters, ProblemType

INVALID = "The request is not valid"


class MemberMerged(
    ProblemType,
    status=409,
    title="Member merged",
    detail="{member_id} was merged into {merged_into}; use that member.",
):
    """Refused changes answer 409; a read answers it as a 301 to the survivor (views)."""

    member_id: str
    merged_into: str


class MemberBanned(
    ProblemType,
    status=409,
    title="Member banned",
    detail="This person is banned from the community and cannot rejoin.",
):
    member_id: str


class IdentitiesOfDifferentMembers(
    ProblemType,
    status=409,
    title="Identities of different members",
    detail="The identities given belong to different members (`member_ids`); merge them first.",
):
    member_ids: list[str]


class InvalidTransition(
    ProblemType,
    status=409,
    title="Not possible in this state",
    detail="A {current_status} member cannot be {move}d (only {allowed}).",
):
    current_status: str
    move: str
    allowed: str


class MergeIntoSelf(
    NoParameters, ProblemType, status=422, title="A member cannot be merged into itself"
):
    pass


class AlreadyMerged(
    NoParameters,
    ProblemType,
    status=409,
    title="Already merged",
    detail="One of the two members was merged before; merge into its survivor.",
):
    pass


class InvalidInviteCode(
    NoParameters,
    ProblemType,
    status=422,
    title=INVALID,
    detail="This invite code is not valid for this community.",
    field="invite_code",
):
    pass


class InviteCodeRequired(
    NoParameters,
    ProblemType,
    status=422,
    title=INVALID,
    detail="This community admits by invite code only.",
    field="invite_code",
):
    pass


class PaymentRequired(
    NoParameters,
    ProblemType,
    status=422,
    title=INVALID,
    detail="This community is paid; send the payment reference.",
    field="payment_reference",
):
    pass


class QuestionnaireIncomplete(
    ProblemType,
    status=422,
    title=INVALID,
    detail="Answer all {questions} questions, in order.",
    field="answers",
):
    questions: int


class MemberNotPresent(
    ProblemType,
    status=409,
    title="Member not in the community",
    detail="A {current_status} member cannot do this.",
):
    current_status: str


class GroupExists(
    ProblemType,
    status=409,
    title="Group already registered",
    detail="The {platform} group {external_id!r} is already registered in this workspace as "
    "{group_id}.",
):
    platform: str
    external_id: str
    group_id: str


class GroupDissolved(
    ProblemType, status=409, title="Group dissolved", detail="{group_id} was dissolved."
):
    group_id: str


class GroupFull(
    ProblemType,
    status=409,
    title="Group full",
    detail="{name} has {members} members and {held_places} places held, of {capacity}. Raise "
    "its capacity or use another group.",
):
    name: str
    capacity: int
    members: int
    held_places: int


class MemberNotAssignable(
    ProblemType,
    status=409,
    title="Member cannot be placed in a group",
    detail="A {member_status} member is not placed in groups.",
):
    member_status: str


class AlreadyInGroup(
    ProblemType,
    status=409,
    title="Member already in a group",
    detail="The member is already in one of the groups this assignment would choose from.",
):
    group_id: str


class NoGroupCapacity(
    ProblemType,
    status=409,
    title="No group has room",
    detail="All {groups} groups it could choose from are full (members plus places held for "
    "invitees). Add a group, or raise a group's capacity.",
):
    groups: int
    segment_id: str | None


class DissolveAtOnPermanentGroup(
    NoParameters,
    ProblemType,
    status=422,
    title=INVALID,
    detail="A permanent group is not dissolved at a time; make it temporary, or dissolve it.",
    field="dissolve_at",
):
    pass


class DissolveAtRequired(
    NoParameters,
    ProblemType,
    status=422,
    title=INVALID,
    detail="A temporary group needs a `dissolve_at` in the future.",
    field="dissolve_at",
):
    pass


class StageUnchanged(
    ProblemType, status=409, title="Already in that stage", detail="The member is already {stage}."
):
    stage: str


class DuplicatePurchaseReference(
    ProblemType,
    status=409,
    title="Purchase already recorded",
    detail="A purchase with reference {reference!r} is already recorded.",
):
    reference: str
    purchase_id: str


class AmountOutOfRange(
    ProblemType,
    status=422,
    title=INVALID,
    detail="amount must be non-zero and at most {limit} either way",
    field="amount",
):
    limit: int


class InsufficientPoints(
    ProblemType,
    status=422,
    title="Not enough points",
    detail="The member has {balance} points; a debit of {debit} would go below zero.",
    field="amount",
):
    balance: int
    debit: int


class AlreadyApplied(
    NoParameters,
    ProblemType,
    status=409,
    title="Already applied",
    detail="This adjustment was made before.",
):
    pass


class BadgeNameTaken(
    ProblemType, status=409, title="Badge name taken", detail="A badge named {name!r} exists."
):
    name: str
    badge_id: str


class UnknownMember(
    ProblemType,
    status=422,
    title=INVALID,
    detail="member {member_id} is not in this community",
    field="member_id",
):
    member_id: str


class MemberNotCurrent(
    ProblemType,
    status=409,
    title="Not a current member",
    detail="Badges go to active or muted members; {member_id} is {member_status}.",
):
    member_id: str
    member_status: str


class UnknownBadge(
    NoParameters,
    ProblemType,
    status=422,
    title=INVALID,
    detail="no such badge in this community",
    field="reward.badge_id",
):
    pass


class TagExists(
    ProblemType,
    status=409,
    title="Tag exists",
    detail="The community already has a tag named {name!r}.",
):
    name: str
    tag_id: str


class TagInUse(
    ProblemType,
    status=409,
    title="Tag in use",
    detail="Change what relies on the tag first (`used_by`).",
):
    used_by: list[str]


class UnknownMembers(
    ProblemType,
    status=422,
    title=INVALID,
    detail="Not live members of this community (`member_ids`).",
    field="member_ids",
):
    member_ids: list[str]


class SegmentExists(
    ProblemType,
    status=409,
    title="Segment exists",
    detail="The community has a segment named {name!r}.",
):
    name: str


class SegmentInUse(
    ProblemType,
    status=409,
    title="Segment in use",
    detail="Groups were made for this segment (`group_ids`).",
):
    group_ids: list[str]


class UnknownReferences(
    NamesItsField, ProblemType, status=422, title=INVALID, detail="Not in this community: {ids}"
):
    field: str
    ids: str


class NoRules(
    NoParameters,
    ProblemType,
    status=404,
    title="No rules yet",
    detail="This community has not published rules yet.",
):
    pass


class UnknownRulesVersion(
    NamesItsField,
    ProblemType,
    status=422,
    title=INVALID,
    detail="This community has no rules version {version}.",
):
    field: str
    version: int


class AccountExists(
    ProblemType,
    status=409,
    title="Account exists",
    detail="A {platform} account {external_id} is registered already.",
):
    platform: str
    external_id: str


class TaskNotIssued(
    ProblemType,
    status=409,
    title="Outcome not possible",
    detail="This task is {current_status}; only an issued request takes an outcome, once.",
):
    current_status: str


class OutcomeAlreadyRecorded(
    ProblemType,
    status=409,
    title="Outcome not possible",
    detail="This task is {current_status}; only an issued request takes an outcome, once.",
):
    current_status: str
