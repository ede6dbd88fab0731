"""Where the gateway's facility pad copies come from: a `PadProvider` opens one by pad id.

`DirectoryPadProvider` serves plain copies from a directory (practice pads, tests, `--pads`);
`custody.pad.vault.VaultPadProvider` serves the facility home's HSM vault; `CombinedPadProvider`
serves several as one. `custody.link.gateway.Gateway` opens every pad its provider lists when it
starts; a `CopyGuard` (the facility ledger, custody.lifecycle.marks) checks each copy it opens.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from custody.errors import PadFormatError, UsageError
from custody.pad.manifest import Side
from custody.pad.pad_copy import CopyGuard, PadCopy
from custody.pad.store import MANIFEST_NAME, open_pad_dir, read_manifest


class PadProvider(Protocol):
    """Facility copies by pad id: `DirectoryPadProvider` (plain copies, practice and tests) and
    `custody.pad.vault.VaultPadProvider` (the facility home's HSM vault)."""

    def pad_ids(self) -> Sequence[bytes]: ...
    def open(self, pad_id: bytes) -> PadCopy: ...


class DirectoryPadProvider:
    """A directory holding one facility copy per subdirectory (or itself one copy)."""

    def __init__(
        self, root: Path, *, state_dir: Path | None = None, guard: CopyGuard | None = None
    ) -> None:
        if not root.is_dir():
            raise UsageError(f"--pads {root} is not a directory")
        self.state_dir = state_dir
        self.guard = guard  # custody.lifecycle.marks.MarksGuard when served under a home
        dirs = (
            [root]
            if (root / MANIFEST_NAME).exists()
            else sorted(d for d in root.iterdir() if (d / MANIFEST_NAME).exists())
        )
        self._dirs: dict[bytes, Path] = {}
        for d in dirs:
            self._dirs[read_manifest(d).pad_id] = d
        if not self._dirs:
            raise UsageError(f"--pads {root} holds no pad copies (no */{MANIFEST_NAME})")

    def pad_ids(self) -> Sequence[bytes]:
        return list(self._dirs)

    def directory(self, pad_id: bytes) -> Path:
        """Where the copy of `pad_id` is (KeyError: not in this directory)."""
        return self._dirs[pad_id]

    def open(self, pad_id: bytes) -> PadCopy:
        def opener() -> PadCopy:
            copy = open_pad_dir(self._dirs[pad_id], state_dir=self.state_dir)
            if copy.side is not Side.FACILITY:
                copy.abandon()
                raise PadFormatError(
                    f"{self._dirs[pad_id]} is a workstation copy; the gateway needs facility copies"
                )
            return copy

        return opener() if self.guard is None else self.guard.open(pad_id, opener)


class CombinedPadProvider:
    """Several providers as one (e.g. the vault's pads and a directory of practice copies)."""

    def __init__(self, providers: Sequence[PadProvider]) -> None:
        self._by_id: dict[bytes, PadProvider] = {}
        for provider in providers:
            for pad_id in provider.pad_ids():
                self._by_id.setdefault(pad_id, provider)

    def pad_ids(self) -> Sequence[bytes]:
        return list(self._by_id)

    def open(self, pad_id: bytes) -> PadCopy:
        return self._by_id[pad_id].open(pad_id)
