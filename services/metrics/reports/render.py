"""A report's Markdown: what an operator reads in a chat tool or an e-mail."""

import base64
from typing import Any

_ROWS = (
    ("members_total", "Members"),
    ("joined", "Joined"),
    ("left", "Left"),
    ("messages", "Messages"),
    ("speakers", "Speakers"),
    ("speaking_rate", "Speaking rate"),
    ("newcomers", "Newcomers"),
    ("check_ins", "Check-ins"),
    ("violations", "Violations"),
)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value * 100:.0f}%"
    return str(value)


def _change(now: Any, before: Any) -> str:
    if not isinstance(now, int | float) or not isinstance(before, int | float):
        return ""
    if isinstance(now, float) or isinstance(before, float):
        return f"{(now - before) * 100:+.0f} pts"
    return f"{now - before:+d}"


def _image(svg: str, alt: str) -> str:
    encoded = base64.b64encode(svg.encode()).decode()
    return f"![{alt}](data:image/svg+xml;base64,{encoded})"


def markdown_of(report: dict[str, Any]) -> str:
    totals, previous = report["totals"], report["previous"]
    lines = [
        f"# {report['name']} — week of {report['week_start']} to {report['week_end']}",
        "",
        f"Health **{report['health']['score']}** / 100 ({report['health']['band']})",
        "",
        *(f"- {reason}" for reason in report["health"]["reasons"]),
        "",
        "| | this week | change |",
        "|---|---:|---:|",
        *(
            f"| {label} | {_cell(totals[key])} | {_change(totals[key], previous[key])} |"
            for key, label in _ROWS
        ),
        "",
        "Last 4 weeks:",
        "",
        f"members {_image(report['charts']['members'], 'members')} "
        f"speakers {_image(report['charts']['speakers'], 'speakers')} "
        f"messages {_image(report['charts']['messages'], 'messages')}",
        "",
    ]
    if report["alerts"]:
        lines += [
            "## Alerts opened",
            "",
            *(f"- {a['kind']}: {a['reason']}" for a in report["alerts"]),
            "",
        ]
    if report["top_contributors"]:
        lines += [
            "## Top contributors",
            "",
            *(
                f"{i}. {c['member_id'] or c['speaker']} — {c['messages']} messages"
                for i, c in enumerate(report["top_contributors"], 1)
            ),
            "",
        ]
    return "\n".join(lines)
