"""Computing an activity's report from this service's own tables and replica, and writing
it as Markdown. ReportMessages during the activity would come from metrics, which does not count
them per activity yet: the report says so instead of guessing."""

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.common.clock import zone
from services.events.activities.models import Activity, ActivitySession, BudgetLine, SessionStatus
from services.events.feedback.models import Feedback
from services.events.lotteries.models import Draw
from services.events.registration.models import Registration, RegistrationSource, RegistrationStatus
from services.events.replica.models import Community, Member
from services.events.reports.models import (
    AttendanceFigures,
    BudgetFigures,
    FeedbackFigures,
    KpiResult,
    NewMembers,
    RegistrationFigures,
    Report,
    ReportMessages,
)

# A registrant who joined the community from publication until this long after the end
# is counted as a member the activity brought in.
JOIN_WINDOW = timedelta(days=7)


def _registrations(session: Session, activity: Activity) -> list[Registration]:
    return list(session.exec(select(Registration).where(Registration.activity_id == activity.id)))


def _feedback(session: Session, activity: Activity) -> FeedbackFigures:
    rows = list(session.exec(select(Feedback).where(Feedback.activity_id == activity.id)))
    ratings = [f.rating for f in rows if f.rating is not None]
    scores = [f.nps for f in rows if f.nps is not None]
    promoters = sum(s >= 9 for s in scores)
    detractors = sum(s <= 6 for s in scores)
    return FeedbackFigures(
        responses=len(rows),
        average_rating=round(sum(ratings) / len(ratings), 2) if ratings else None,
        nps=round(100 * (promoters - detractors) / len(scores), 1) if scores else None,
        promoters=promoters,
        passives=len(scores) - promoters - detractors,
        detractors=detractors,
    )


def build_report(
    session: Session, *, community: Community, activity: Activity, now: datetime
) -> Report:
    regs = _registrations(session, activity)
    status = Counter(r.status for r in regs)
    attended = sum(r.checked_in_at is not None for r in regs)
    no_shows = sum(r.no_show for r in regs)
    sessions = list(
        session.exec(select(ActivitySession).where(ActivitySession.activity_id == activity.id))
    )
    registrants = {r.member_id for r in regs}
    since = activity.published_at or activity.created_at
    joined = 0
    if registrants:
        joined = session.exec(
            select(func.count()).where(
                col(Member.id).in_(registrants),
                col(Member.joined_at) >= since,
                col(Member.joined_at) <= activity.ends_at + JOIN_WINDOW,
            )
        ).one()
    lines = [BudgetLine.model_validate(b) for b in activity.budget]
    planned, spent = sum(b.planned for b in lines), sum(b.spent for b in lines)
    feedback = _feedback(session, activity)
    draws = list(session.exec(select(Draw).where(Draw.activity_id == activity.id)))
    results: dict[str, float | None] = {
        "attendance": attended,
        "registrations": len(registrants),
        "new_members": joined,
        "rating": feedback.average_rating,
        "nps": feedback.nps,
        "messages": None,
        "spending": spent,
    }
    kpis = []
    for name, target in activity.kpi_targets.items():
        result = results.get(name)
        met = (
            None
            if result is None
            else (result <= target if name == "spending" else result >= target)
        )
        kpis.append(KpiResult(name=name, target=target, result=result, met=met))
    return Report(
        activity_id=activity.id,
        title=activity.title,
        kind=activity.kind,
        status=activity.status,
        goal=activity.goal,
        value_dimension=activity.value_dimension,
        timezone=community.timezone,
        starts_at=activity.starts_at,
        ends_at=activity.ends_at,
        sessions=len(sessions),
        sessions_cancelled=sum(s.status == SessionStatus.cancelled for s in sessions),
        registrations=RegistrationFigures(
            members_registered=len(registrants),
            confirmed=status[RegistrationStatus.confirmed],
            waitlisted=status[RegistrationStatus.waitlisted],
            offered=status[RegistrationStatus.offered],
            cancelled=status[RegistrationStatus.cancelled],
            offer_expired=status[RegistrationStatus.offer_expired],
            from_bots=sum(r.source == RegistrationSource.bot for r in regs),
            walk_ins=sum(r.source == RegistrationSource.walk_in for r in regs),
        ),
        attendance=AttendanceFigures(
            attended=attended,
            no_shows=no_shows,
            rate=round(attended / (attended + no_shows), 3) if attended + no_shows else None,
        ),
        new_members=NewMembers(
            count=int(joined),
            definition="registrants who joined the community from the activity's publication "
            f"until {JOIN_WINDOW.days} days after its end",
        ),
        messages=ReportMessages(
            available=False,
            count=None,
            note="Messages during the activity come from the metrics service, which does not "
            "count them per activity yet; omitted rather than guessed.",
        ),
        feedback=feedback,
        budget=BudgetFigures(lines=lines, planned=planned, spent=spent, remaining=planned - spent),
        kpis=kpis,
        draws=len(draws),
        prizes_won=sum(len(d.winners) for d in draws),
        generated_at=now,
    )


def _local(at: datetime, timezone: str) -> str:
    return at.astimezone(zone(timezone)).strftime("%Y-%m-%d %H:%M")


def _figure(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def as_markdown(report: Report) -> str:
    r = report
    reg, att, fb, budget = r.registrations, r.attendance, r.feedback, r.budget
    out = [
        f"# {r.title}",
        "",
        f"*{r.kind}, {r.status}* · {_local(r.starts_at, r.timezone)} – "
        f"{_local(r.ends_at, r.timezone)} ({r.timezone}) · {r.sessions} session(s)"
        + (f", {r.sessions_cancelled} cancelled" if r.sessions_cancelled else ""),
        "",
        f"**Goal:** {r.goal or '—'}",
        "",
        "## Registration",
        "",
        "| members registered | confirmed | waiting | offered | cancelled | offers lapsed "
        "| via bots | walk-ins |",
        "|---|---|---|---|---|---|---|---|",
        f"| {reg.members_registered} | {reg.confirmed} | {reg.waitlisted} | {reg.offered} "
        f"| {reg.cancelled} | {reg.offer_expired} | {reg.from_bots} | {reg.walk_ins} |",
        "",
        "## Attendance",
        "",
        f"{att.attended} attended, {att.no_shows} no-shows"
        + (f" ({att.rate:.0%} of confirmed places)." if att.rate is not None else "."),
        "",
        f"New members: {r.new_members.count} ({r.new_members.definition}).",
        "",
        f"Messages during the activity: {r.messages.note}",
        "",
        "## Feedback",
        "",
        f"{fb.responses} response(s); average rating {_figure(fb.average_rating)}; "
        f"NPS {_figure(fb.nps)} ({fb.promoters} promoters, {fb.passives} passives, "
        f"{fb.detractors} detractors).",
        "",
        "## Budget",
        "",
        "| item | planned | spent |",
        "|---|---|---|",
        *(f"| {b.item} | {b.planned:g} | {b.spent:g} |" for b in budget.lines),
        f"| **total** | **{budget.planned:g}** | **{budget.spent:g}** |",
        "",
        "## KPIs",
        "",
        "| KPI | target | result | met |",
        "|---|---|---|---|",
        *(
            f"| {k.name} | {k.target:g} | {_figure(k.result)} | "
            f"{'—' if k.met is None else ('yes' if k.met else 'no')} |"
            for k in r.kpis
        ),
        "",
        f"Draws: {r.draws}, prizes won: {r.prizes_won}.",
        "",
    ]
    return "\n".join(out)
