"""Practice pads made without a ceremony, recorded in the ledger (`pad.practice_created`).

A practice home's starter pad (and any pad made with the OS CSPRNG for practice, e.g.
`app.gui.facility.add_practice_pad`) never went through a ceremony, so no event named it: the
custody view listed it, the practice gateway served it, but inventory and the reports did not
know it and could not count its queries. One event records such a pad before it is served: its
identity and geometry from the manifest, nothing secret. The station writes it alone (actor
`station` or `gateway:<name>`); a production home refuses it (production pads come only from a
ceremony), as does a PRODUCTION manifest.

The derived state (`custody.lifecycle.states`) is "active" from this event on: the pad is in use
at once, with both copies in the practice home.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from custody.errors import LifecycleError, PadFormatError
from custody.ledger.chain import EventDraft, Ledger
from custody.lifecycle import states
from custody.pad.manifest import Manifest, Mark
from custody.pad.store import read_manifest

log = logging.getLogger(__name__)

SOURCE = "os-csprng"  # custody.pad.practice: secrets.token_bytes


class _Known(Exception):
    """The pad was recorded by another writer in between (decided inside the transaction)."""


def payload_of(manifest: Manifest, where: str) -> dict[str, Any]:
    """The event's payload: identity, geometry and origin of the pad (no pad bytes)."""
    return {
        "pad_id": manifest.pad_id.hex(),
        "pad_id_display": manifest.pad_id_display,
        "mark": manifest.mark.value,
        "ceremony_id": manifest.ceremony_id,  # "practice" for every practice pad
        "size": manifest.size,
        "split": manifest.split,
        "w2f_length": manifest.w2f_length,
        "f2w_length": manifest.size - manifest.w2f_length,
        "reserve": manifest.reserve,
        "merkle_root": manifest.merkle_root.hex(),
        "created": manifest.created,
        "source": SOURCE,
        "where": where,
    }


def known_pads(ledger: Ledger) -> set[str]:
    """Pad ids (hex) the ledger records a ceremony or a practice creation for."""
    return {pid for pid, rec in states.scan(ledger, consumption=False).items() if rec.ceremony_id}


def record_practice_pads(
    ledger: Ledger, dirs: Iterable[Path], *, practice: bool, actor: str, where: str
) -> list[str]:
    """Append `pad.practice_created` for each facility copy in `dirs` whose pad the ledger does
    not know yet; returns the pad ids recorded (hex). Unreadable directories are skipped (the
    gateway refuses them anyway); a PRODUCTION manifest is refused with LifecycleError."""
    if not practice:
        raise LifecycleError("a production home records pads only through a ceremony")
    known = known_pads(ledger)
    recorded = []
    for d in dirs:
        try:
            manifest = read_manifest(d)
        except (PadFormatError, OSError) as exc:
            log.info("practice pad %s unreadable (%s)", d.name, type(exc).__name__)
            continue
        pid = manifest.pad_id.hex()
        if pid in known:
            continue
        if manifest.mark is not Mark.PRACTICE:
            raise LifecycleError(
                f"pad {manifest.pad_id_display} is marked {manifest.mark.value}: only a "
                "ceremony records a production pad"
            )

        def not_recorded(conn: Any, pid: str = pid) -> None:
            # Under the write lock: another process may have recorded it since the scan.
            d_ = states.Deriver()
            d_.feed(states.event_rows(conn, -1, (states.PRACTICE_CREATED, "pad.generated")))
            if pid in d_.pads:
                raise _Known

        try:
            ledger.append_many(
                [EventDraft(states.PRACTICE_CREATED, payload_of(manifest, where), (actor,))],
                check=not_recorded,
            )
        except _Known:
            continue
        known.add(pid)
        recorded.append(pid)
    return recorded
