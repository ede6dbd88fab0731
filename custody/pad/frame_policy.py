"""Which frame modes a pad allows: its frame policy, and the guarantee each mode gives.

A frame is sealed in one of two modes (docs/protocol.md):

* **one-time pad** (`FrameMode.OTP`): the body is XORed with fresh pad bytes and authenticated
  with a one-time Poly1305 key; information-theoretic while the pad is truly random, secret and
  used once;
* **pad-keyed** (`FrameMode.PAD_KEYED`): 32 fresh pad bytes are the input keying material of
  HKDF-SHA256, which derives a ChaCha20-Poly1305 key; computational, resting on ChaCha20-Poly1305
  and HKDF-SHA256 and on the 256-bit key being secret.

The policy is chosen at the ceremony and kept in the manifest (docs/pad-format.md); two officers
may make it stricter later (a `pad.frame_policy` ledger event, docs/ledger.md). The receiver
enforces its own policy; the sender only ever chooses a mode its peer's policy allows:

* `otp-only` (the default, and what a manifest without the field means): one-time pad frames
  only;
* `otp-preferred`: pad-keyed frames only for cover traffic and for questions larger than
  `threshold` bytes; everything else, answers included, one-time pad;
* `pad-keyed`: every message pad-keyed.

In every mode, questions whose classification label is in `otp_only_classifications` (and their
answers) travel as one-time pad frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any

from custody.errors import UsageError

DEFAULT_THRESHOLD = 16384  # bytes of a question's body (otp-preferred)
MAX_THRESHOLD = 1 << 30
MAX_LABELS = 64
MAX_LABEL = 64  # a classification label (as the query metadata allows)


class FrameMode(IntEnum):
    """The mode of one frame, as its header says (byte 5)."""

    OTP = 0
    PAD_KEYED = 1

    @property
    def word(self) -> str:
        """As recorded (chronicle, ledger, --json)."""
        return "otp" if self is FrameMode.OTP else "pad-keyed"

    @property
    def guarantee(self) -> str:
        """As shown to people, beside the pad cost."""
        return GUARANTEE[self]


GUARANTEE = {
    FrameMode.OTP: "one-time pad (information-theoretic)",
    FrameMode.PAD_KEYED: "pad-keyed ChaCha20-Poly1305 (computational)",
}


def mode_of_word(word: str) -> FrameMode:
    for m in FrameMode:
        if m.word == word:
            return m
    raise ValueError(f"unknown frame mode {word!r}")


class PolicyMode(Enum):
    OTP_ONLY = "otp-only"
    OTP_PREFERRED = "otp-preferred"
    PAD_KEYED = "pad-keyed"

    @property
    def rank(self) -> int:
        """0 is the strictest."""
        return _RANK[self]


_RANK = {PolicyMode.OTP_ONLY: 0, PolicyMode.OTP_PREFERRED: 1, PolicyMode.PAD_KEYED: 2}
POLICY_WORDS = tuple(m.value for m in PolicyMode)


def normalise_label(label: str) -> str:
    return " ".join(label.split()).upper()


@dataclass(frozen=True)
class FramePolicy:
    mode: PolicyMode = PolicyMode.OTP_ONLY
    threshold: int = DEFAULT_THRESHOLD
    otp_only_classifications: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if type(self.threshold) is not int or not 0 <= self.threshold <= MAX_THRESHOLD:
            raise UsageError(
                f"pad-keyed threshold must be a whole number of bytes from 0 to {MAX_THRESHOLD}"
            )
        labels = tuple(sorted({normalise_label(x) for x in self.otp_only_classifications}))
        if len(labels) > MAX_LABELS or any(
            not x or len(x) > MAX_LABEL or not x.isprintable() for x in labels
        ):
            raise UsageError(
                f"otp-only classifications: at most {MAX_LABELS} labels of 1 to {MAX_LABEL} "
                "printable characters"
            )
        object.__setattr__(self, "otp_only_classifications", labels)

    # -- what the policy allows -------------------------------------------------------------
    @property
    def allows_pad_keyed(self) -> bool:
        return self.mode is not PolicyMode.OTP_ONLY

    @property
    def keyed_cover(self) -> bool:
        """Cover traffic is sealed pad-keyed (one key per key period)."""
        return self.mode is not PolicyMode.OTP_ONLY

    def otp_only_label(self, classification: str | None) -> bool:
        return (
            classification is not None
            and normalise_label(classification) in self.otp_only_classifications
        )

    def question_mode(self, body_len: int, classification: str | None) -> FrameMode:
        """The mode a question's frames are sealed in (`body_len`: its encoded body)."""
        if self.otp_only_label(classification):
            return FrameMode.OTP
        if self.mode is PolicyMode.PAD_KEYED:
            return FrameMode.PAD_KEYED
        if self.mode is PolicyMode.OTP_PREFERRED and body_len > self.threshold:
            return FrameMode.PAD_KEYED
        return FrameMode.OTP

    def answer_mode(self, classification: str | None) -> FrameMode:
        """The mode an answer is sealed in. Its length is unknown when its first frame must be
        sealed, so only `pad-keyed` answers pad-keyed (one message never mixes the two)."""
        if self.mode is PolicyMode.PAD_KEYED and not self.otp_only_label(classification):
            return FrameMode.PAD_KEYED
        return FrameMode.OTP

    def question_allowed(self, mode: FrameMode, body_len: int, label: str | None) -> bool:
        """Whether a received question in `mode` is what this policy lets a sender choose."""
        return mode is FrameMode.OTP or self.question_mode(body_len, label) is mode

    # -- comparing ---------------------------------------------------------------------------
    def strictest(self, other: FramePolicy) -> FramePolicy:
        """What both allow: the policy in force when two records disagree (the manifest and
        the ledger; the workstation's copy and the facility's word)."""
        return FramePolicy(
            min(self.mode, other.mode, key=lambda m: m.rank),
            max(self.threshold, other.threshold)
            if self.mode is other.mode
            else (self if self.mode.rank < other.mode.rank else other).threshold,
            tuple(set(self.otp_only_classifications) | set(other.otp_only_classifications)),
        )

    def at_least_as_strict_as(self, other: FramePolicy) -> bool:
        """Everything this policy allows, `other` allows too."""
        if self.mode is PolicyMode.OTP_ONLY:
            return True  # one-time pad only: its labels change nothing
        if self.mode.rank > other.mode.rank:
            return False
        if not set(other.otp_only_classifications) <= set(self.otp_only_classifications):
            return False
        return not (
            self.mode is PolicyMode.OTP_PREFERRED
            and other.mode is PolicyMode.OTP_PREFERRED
            and self.threshold < other.threshold
        )

    # -- text --------------------------------------------------------------------------------
    def describe(self) -> str:
        """One line for people: `otp-preferred (pad-keyed above 16,384 bytes and for cover)`."""
        text = self.mode.value
        if self.mode is PolicyMode.OTP_PREFERRED:
            text += f" (pad-keyed for cover traffic and questions over {self.threshold:,} bytes)"
        elif self.mode is PolicyMode.PAD_KEYED:
            text += " (every message pad-keyed)"
        else:
            text += " (every message one-time pad)"
        if self.otp_only_classifications and self.allows_pad_keyed:
            text += "; one-time pad only for " + ", ".join(self.otp_only_classifications)
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "otp_only_classifications": list(self.otp_only_classifications),
            "threshold": self.threshold,
        }

    @classmethod
    def from_dict(cls, d: Any) -> FramePolicy:
        if not isinstance(d, dict) or set(d) != {"mode", "otp_only_classifications", "threshold"}:
            raise ValueError("frame policy must have mode, threshold, otp_only_classifications")
        labels = d["otp_only_classifications"]
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise ValueError("otp_only_classifications must be a list of labels")
        policy = cls(PolicyMode(d["mode"]), d["threshold"], tuple(labels))
        if policy.to_dict() != d:
            raise ValueError("frame policy is not in canonical form")
        return policy


OTP_ONLY = FramePolicy()


def parse_policy(
    mode: str, threshold: int | None = None, labels: list[str] | tuple[str, ...] = ()
) -> FramePolicy:
    """A policy from command-line words (UsageError naming the choices)."""
    try:
        pm = PolicyMode(mode)
    except ValueError:
        raise UsageError(
            f"frame policy {mode[:40]!r} is not one of {', '.join(POLICY_WORDS)}"
        ) from None
    return FramePolicy(pm, DEFAULT_THRESHOLD if threshold is None else threshold, tuple(labels))
