"""What the workstation view shows, computed from pad statuses, presence reports and answers.

Qt-free. The pad's one line and footer, when it counts as low or exhausted, which detected pad to
select, what the gateway's presence means, what cover traffic costs in words, a question with its
file excerpt, an answer card's details. `app.gui.workstation_view` renders these;
`app.gui.workstation_link` holds the open link they are read from.
"""

from __future__ import annotations

from pathlib import Path

from app.gui.usb_detect import DetectedPad
from custody.link.messages import CoverCost, duration_text
from custody.link.presence import Presence
from custody.link.workstation import Answer
from custody.pad.frame_policy import FrameMode
from custody.pad.status import PadStatus

CLASSIFICATIONS = ("UNCLASSIFIED", "CUI", "CONFIDENTIAL", "SECRET", "TOP SECRET")
EXCERPT_CHARS = 4000

# -- the pad ------------------------------------------------------------------------------


def pad_low_threshold(s: PadStatus, count: int, fraction: float) -> int:
    """Queries left below which the pad is "low": the LOWER of a fixed count and a fraction of
    the pad's whole capacity, so a small practice pad is not "low" from its first query.

    The capacity is estimated from the tighter direction: queries left / the fraction of its
    bytes still unused (exact for a fresh pad)."""
    left = [n / s.length[d] for d, n in s.remaining.items() if s.length.get(d)]
    unused = min(left) if left else 0.0
    if unused <= 0:
        return max(1, count)
    return max(1, min(count, int(fraction * s.queries_left / unused)))


def pad_line(s: PadStatus) -> str:
    """The one sentence every place on the screen uses for what the pad has left."""
    return (
        f"OTP Pad {s.manifest.pad_id_display} [{s.manifest.mark.value}]: about "
        f"{s.queries_left:,} queries left (approximately {int(s.days_left):,} days at "
        f"{s.queries_per_day:,.0f}/day)"
    )


def remaining_text(s: PadStatus) -> str:
    parts = [f"{n:,} bytes {d.label}" for d, n in s.remaining.items()]
    return "; ".join(parts)


def footer_text(s: PadStatus) -> str:
    """The line under the chat."""
    return (
        f"Pad {s.manifest.pad_id_display}: about {s.queries_left:,} queries left; "
        f"{remaining_text(s)}."
    )


def is_exhausted(s: PadStatus) -> bool:
    return any(v <= 0 for v in s.remaining.values()) or s.queries_left == 0


def pad_alert(s: PadStatus, count: int, fraction: float) -> tuple[str, str] | None:
    """The pad banner (level, text): exhausted, low (see `pad_low_threshold`), or none."""
    low = pad_low_threshold(s, count, fraction)
    if is_exhausted(s):
        return "error", "Pad exhausted: this pad cannot carry another query. Use a new pad."
    if s.queries_left < low or any("critically" in w for w in s.warnings()):
        return (
            "warn",
            f"Pad low: about {s.queries_left:,} queries left. Order a new pad from the "
            "facility now.",
        )
    return None


def has_bytes_left(d: DetectedPad) -> bool:
    return d.status is not None and all(n > 0 for n in d.status.remaining.values())


def preferred_pad(found: list[DetectedPad]) -> int:
    """Which detected pad to select: the most recently created one with bytes left in both
    directions (after a ceremony, the new pad), else the newest readable one, else the first."""
    candidates = [(i, d) for i, d in enumerate(found) if d.status is not None]
    usable = [(i, d) for i, d in candidates if has_bytes_left(d)] or candidates
    if not usable:
        return 0
    return max(usable, key=lambda c: (c[1].status.manifest.created, c[0]))[0]  # type: ignore[union-attr]


def pad_choice(d: DetectedPad) -> str:
    """A detected pad in the pad list: its id, when it was made, whether it is used up."""
    if d.status is None:
        label = f"{d.path.name} (unreadable)"
    else:
        m = d.status.manifest
        left = "" if has_bytes_left(d) else ", used up"
        label = f"{m.pad_id_display} — created {m.created[:10]}{left}"
    return f"{label} — {d.path}"


# -- the link -----------------------------------------------------------------------------


def presence_alert(p: Presence) -> str | None:
    """The gateway banner's error for a presence report, or None when the pad is served."""
    if not p.up:
        across = "" if p.diode is None else f" Through the data diode: {p.diode.why_no_gateway()}."
        return (
            "Gateway absent: no facility gateway is on the link. Questions cannot be "
            f"answered now; no pad is spent by waiting.{across}"
        )
    if not p.serving_pad:
        return (
            "The facility gateway does not serve this pad (wrong pad, or the pad was "
            "suspended, compromised or destroyed at the facility)."
        )
    return None


def presence_note(p: Presence) -> str | None:
    """The gateway banner's information when the pad is served: across a data diode, when
    the facility was last heard (the workstation cannot see the gateway itself)."""
    if p.diode is None:
        return None
    return f"Gateway {', '.join(p.serving_pad)}: {p.diode.render()}."


def cover_confirmation_text(cost: CoverCost) -> str:
    """What the user reads before cover traffic starts: what it does, what it costs, and (when
    the pad's policy makes it pad-keyed) which guarantee its frames have."""
    lasts = cost.lasts_seconds
    left = (
        ""
        if cost.remaining is None or lasts is None
        else f"\n\nThe {cost.remaining:,} pad bytes left for questions (workstation→facility) "
        f"last about {duration_text(lasts)} at this rate, whatever you ask."
    )
    if cost.keyed:
        each = (
            f"{cost.bucket:,}-byte frames sealed {cost.guarantee}: one 32-byte key of pad "
            f"every {duration_text(cost.key_period or 0.0)} (this pad's frame policy allows "
            "pad-keyed cover traffic). Questions go out inside its frames, each in its own "
            "mode, at its own pad cost."
        )
    else:
        each = (
            f"each of {cost.frame_bytes:,} pad bytes, one-time pad. Questions go out in its slots."
        )
    return (
        f"Cover traffic sends {cost.rate:g} frame(s) per second to the facility, whether or not "
        "you ask anything, so that an observer of the link cannot tell when or how much you "
        f"ask: {each}"
        f"\n\nCost: {cost.bytes_per_minute:,} pad bytes per minute, {cost.bytes_per_day:,} "
        f"pad bytes per day.{left}\n\nIt stays on until you turn it off or disconnect; while "
        "no facility gateway serves this pad it pauses (nothing to cover for, no pad spent)."
    )


# -- questions and answers ----------------------------------------------------------------


def read_excerpt(path: Path) -> str:
    """The first `EXCERPT_CHARS` characters of a file to attach (OSError when unreadable)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read(EXCERPT_CHARS)


def compose(question: str, excerpt: tuple[str, str] | None) -> str:
    """The question as sent: its text, then the attached excerpt (file name, text) if any."""
    text = question.strip()
    if excerpt is not None:
        name, body = excerpt
        text += f"\n\n--- content excerpt from {name} ---\n{body}"
    return text


def cost_text(cost: int, question: FrameMode, answer: FrameMode) -> str:
    """The ask box's line: what the question costs and which guarantee it and its answer get."""
    text = f"This question will consume {cost:,} pad bytes to send, {question.guarantee}"
    if answer is not question:
        text += f"; its answer comes {answer.guarantee}"
    return text + "."


def guarantee_text(a: Answer) -> str:
    """Which guarantee the question and its answer had (custody.pad.frame_policy)."""
    if a.answer_mode is None or a.answer_mode is a.question_mode:
        return f"Both ways: {a.question_guarantee}"
    return f"Question: {a.question_guarantee}; answer: {a.answer_guarantee}"


def answer_details(a: Answer, queries_left: int | None) -> str:
    """An answer card's last line; `queries_left` None while the status after it is read."""
    left = "…" if queries_left is None else f"about {queries_left:,} queries"
    return (
        f"Query ID: {a.query_id[:16]}   Pad consumed: {a.w2f_bytes + a.f2w_bytes:,} bytes "
        f"({a.w2f_bytes:,} out, {a.f2w_bytes:,} back)   {guarantee_text(a)}   "
        f"Remaining: {left}   Chronicle: logged by the facility gateway"
    )
