"""The host's witness of a pad copy's journal: the rollback guard kept outside the medium.

`custody.pad.store.open_copy` gives every copy it opens a `Witness` under the host's state
directory; `PadCopy.check_witness` (custody.pad.pad_copy) refuses a journal older than it, and
every journal write is mirrored into it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from custody.bounded_read import read_file
from custody.durable_file import write_atomic
from custody.errors import PadFormatError
from custody.pad.journal import MAX_JOURNAL_BYTES, JournalState
from custody.pad.manifest import Manifest, Side

log = logging.getLogger(__name__)


class Witness:
    """The host's own record of a journal, kept outside the medium (rollback guard)."""

    def __init__(self, state_dir: Path, manifest: Manifest, side: Side) -> None:
        self.path = state_dir / "witness" / f"{manifest.pad_id.hex()}-{side.value}.json"

    def read(self) -> JournalState | None:
        try:
            data = read_file(self.path, MAX_JOURNAL_BYTES, "witness", error=PadFormatError)
            return JournalState.from_bytes(data, str(self.path))
        except FileNotFoundError:
            return None
        except PadFormatError:
            log.warning("witness %s is unreadable; ignoring it", self.path)
            return None

    def write(self, state: JournalState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Not fsynced: a witness that lags after a power loss is only a weaker lower bound,
        # never a false alarm (it is written after the journal it mirrors).
        write_atomic(self.path, state.to_bytes(), durable=False)
