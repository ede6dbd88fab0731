"""A workstation's open link: the pad copy on the USB, a Zenoh client session, the client.

Blocking and Qt-free: the workstation view calls these from workers. All pad work and every
OTP operation is `custody.link.workstation.WorkstationClient`'s; this only opens and closes.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from custody.link import keys as link_keys
from custody.link.presence import Presence
from custody.link.workstation import WorkstationClient
from custody.link.zenoh_transport import LinkConfig, Transport
from custody.pad.pad_copy import PadCopy
from custody.pad.status import PadStatus, read_status
from custody.pad.store import open_pad_dir

log = logging.getLogger(__name__)


def probe_gateways(endpoint: str, timeout: float = 1.5) -> list[str]:
    """Gateways alive behind `endpoint`, by liveliness only: no pad is opened or spent."""
    with Transport(LinkConfig.for_endpoint(endpoint)) as t:
        keys = t.alive(f"{link_keys.PREFIX}/gateway/**", timeout)
    return sorted({n for k in keys if k.endswith("/alive") and (n := link_keys.gateway_name_of(k))})


class WorkstationSession:
    def __init__(
        self,
        pad_dir: Path,
        endpoint: str,
        *,
        state_dir: Path | None = None,
        answer_timeout: float = 60.0,
        queries_per_day: float | None = None,
    ) -> None:
        self.pad_dir = pad_dir
        self.endpoint = endpoint
        self.queries_per_day = queries_per_day
        self.transport = Transport(LinkConfig.for_endpoint(endpoint))
        self.copy: PadCopy | None = None
        try:
            self.copy = open_pad_dir(pad_dir, state_dir=state_dir)
            self.client = WorkstationClient(
                self.copy, self.transport, state_dir=state_dir, answer_timeout=answer_timeout
            )
        except BaseException:
            if self.copy is not None:
                self.copy.close()
            self.transport.close()
            raise

    def presence(self) -> Presence:
        return self.client.presence(timeout=0.5, with_diode=True)

    def status(self) -> PadStatus:
        return read_status(self.pad_dir, queries_per_day=self.queries_per_day)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()
        if self.copy is not None:
            with contextlib.suppress(Exception):
                self.copy.close()
            self.copy = None
        self.transport.close()
