"""What a ceremony is asked to make (`CeremonyPlan`) and what it made (`CeremonyOutcome`).

The plan is kept in the ceremony's journal (ceremony/ceremony_journal.py), so a resumed
ceremony runs the plan it began with; the outcome is read back from the journal's step results
when the state machine (ceremony/state_machine.py) closes the ceremony. The CLI and the Qt
wizard build the plan and show the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ceremony.ceremony_journal import CeremonyJournal
from custody.pad.frame_policy import OTP_ONLY, FramePolicy
from custody.pad.manifest import DEFAULT_CHUNK_SIZE, Mark

DEFAULT_QUERIES_PER_DAY = 100
DEFAULT_BYTES_PER_QUERY = 10 * 1024


@dataclass
class CeremonyPlan:
    size: int
    customer_dir: Path
    sources: list[str]
    split: str = "1:3"
    chunk_size: int = DEFAULT_CHUNK_SIZE
    receipt_out: Path | None = None
    queries_per_day: int = DEFAULT_QUERIES_PER_DAY
    bytes_per_query: int = DEFAULT_BYTES_PER_QUERY
    # Which frames the pad will allow (docs/protocol.md, "Pad-keyed frames"): in its manifest,
    # signed with the plan by both officers.
    frame_policy: FramePolicy = OTP_ONLY

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "customer_dir": str(self.customer_dir),
            "sources": list(self.sources),
            "split": self.split,
            "chunk_size": self.chunk_size,
            "receipt_out": str(self.receipt_out) if self.receipt_out else None,
            "queries_per_day": self.queries_per_day,
            "bytes_per_query": self.bytes_per_query,
            "frame_policy": self.frame_policy.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CeremonyPlan:
        return cls(
            size=int(d["size"]),
            customer_dir=Path(d["customer_dir"]),
            sources=list(d["sources"]),
            split=str(d["split"]),
            chunk_size=int(d["chunk_size"]),
            receipt_out=Path(d["receipt_out"]) if d.get("receipt_out") else None,
            queries_per_day=int(d.get("queries_per_day", DEFAULT_QUERIES_PER_DAY)),
            bytes_per_query=int(d.get("bytes_per_query", DEFAULT_BYTES_PER_QUERY)),
            # A ceremony begun before frame policies existed makes an otp-only pad.
            frame_policy=(
                FramePolicy.from_dict(d["frame_policy"]) if "frame_policy" in d else OTP_ONLY
            ),
        )


@dataclass
class CeremonyOutcome:
    ceremony_id: str
    pad_id: str
    pad_id_display: str
    mark: str
    size: int
    split: str
    merkle_root: str
    merkle_root_words: str
    pad_sha256: str
    pad_sha256_words: str
    usb: dict[str, Any]
    hsm: dict[str, Any]
    bag_serial: str
    receipt: str | None
    closing_event: int
    officers: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ceremony_id": self.ceremony_id,
            "pad_id": self.pad_id,
            "pad_id_display": self.pad_id_display,
            "mark": self.mark,
            "size": self.size,
            "split": self.split,
            "fingerprints": {
                "merkle_root": self.merkle_root,
                "merkle_root_words": self.merkle_root_words,
                "pad_sha256": self.pad_sha256,
                "pad_sha256_words": self.pad_sha256_words,
            },
            "usb": self.usb,
            "hsm": self.hsm,
            "bag_serial": self.bag_serial,
            "receipt": self.receipt,
            "closing_event": self.closing_event,
            "officers": self.officers,
        }

    @classmethod
    def from_journal(cls, journal: CeremonyJournal, mark: Mark) -> CeremonyOutcome:
        """The outcome of a closed ceremony, from its journal's step results."""
        j = journal
        gen = j.result("generate")
        return cls(
            ceremony_id=j.ceremony_id,
            pad_id=gen["pad_id"],
            pad_id_display=gen["pad_id_display"],
            mark=mark.value,
            size=int(gen["size"]),
            split=gen["split"],
            merkle_root=gen["merkle_root"],
            merkle_root_words=gen["merkle_root_words"],
            pad_sha256=gen["pad_sha256"],
            pad_sha256_words=gen["pad_sha256_words"],
            usb=j.result("customer_copy").get("usb", {}),
            hsm=j.result("facility_copy").get("hsm", {}),
            bag_serial=j.result("seal").get("bag_serial", ""),
            receipt=j.result("receipt").get("receipt_path"),
            closing_event=int(j.data["steps"]["receipt"]["event_seq"]),
            officers=list(j.result("authenticate").get("officers", [])),
        )
