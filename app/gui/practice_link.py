"""The practice link inside the application: an embedded Zenoh router and an echo gateway.

`make run` needs no other process: the router session listens on 127.0.0.1 (scouting off) and
the gateway serves the facility copies in HOME/facility-pads over it, answering with the echo
backend. `start()` and `stop()` block (Zenoh, pad journals); the window runs them on workers.
The gateway keeps its own threads (custody.link.gateway); `stop()` joins them.
"""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path

from custody.errors import LinkError
from custody.hsm import Token
from custody.ledger.home import load_settings
from custody.lifecycle.marks import MarksGuard
from custody.link.backends import EchoBackend
from custody.link.chronicle import Chronicle, JsonlChronicleSink
from custody.link.gateway import Gateway
from custody.link.pad_providers import CombinedPadProvider, DirectoryPadProvider, PadProvider
from custody.link.zenoh_transport import DEFAULT_ENDPOINT, LinkConfig, Transport
from custody.pad.vault import VaultPadProvider, vault_pad_ids

log = logging.getLogger(__name__)


def free_local_endpoint() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"tcp/127.0.0.1:{port}"


class PracticeLink:
    def __init__(
        self,
        pads_dir: Path,
        chronicle: Path,
        *,
        endpoint: str | None = None,
        state_dir: Path | None = None,
        echo_piece: int = 24,
        echo_delay: float = 0.02,
        vault: tuple[Path, Token] | None = None,
    ) -> None:
        self.pads_dir = pads_dir
        self.chronicle_path = chronicle
        self.endpoint = endpoint
        self.state_dir = state_dir
        self.backend = EchoBackend(piece=echo_piece, delay=echo_delay)
        self.vault = vault
        self.transport: Transport | None = None
        self.gateway: Gateway | None = None
        self.guard: MarksGuard | None = None
        self._lock = threading.Lock()

    def start(self) -> str:
        """Open the router (falling back to a free port) and start the gateway. Returns the
        endpoint workstations connect to."""
        with self._lock:
            if self.transport is None:
                wanted = self.endpoint or DEFAULT_ENDPOINT
                try:
                    self.transport = Transport(LinkConfig.router(wanted))
                    self.endpoint = wanted
                except LinkError:
                    self.endpoint = free_local_endpoint()
                    self.transport = Transport(LinkConfig.router(self.endpoint))
                log.info("practice router listening on %s", self.endpoint)
            self._start_gateway()
            assert self.endpoint is not None
            return self.endpoint

    def _start_gateway(self) -> None:
        if self.gateway is not None or self.transport is None:
            return
        providers: list[PadProvider] = []
        if any(self.pads_dir.glob("*/manifest.json")):
            providers.append(DirectoryPadProvider(self.pads_dir, state_dir=self.state_dir))
        if self.vault is not None and vault_pad_ids(self.vault[0]):
            # Vault copies are checked against the home's ledger and mirrored into it, as the
            # headless gateway does (custody.lifecycle.marks): a restored copy is refused.
            self.guard = MarksGuard.for_home(
                self.vault[0], load_settings(self.vault[0]), self.vault[1], actor="gateway:practice"
            )
            providers.append(
                VaultPadProvider(
                    self.vault[0], self.vault[1], state_dir=self.state_dir, guard=self.guard
                )
            )
        if not providers:
            log.info("practice gateway: no facility pads yet")
            return
        chronicle = Chronicle(JsonlChronicleSink(self.chronicle_path))
        gw = Gateway(
            self.transport,
            CombinedPadProvider(providers),  # practice directories plus the HSM vault
            self.backend,
            name="practice",
            chronicle=chronicle,
            state_dir=self.state_dir,
            backend_workers=2,
            chunk_bytes=256,
        )
        gw.start()
        self.gateway = gw

    def _stop_gateway(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None
        if self.guard is not None:
            self.guard.close()
            self.guard = None

    def restart_gateway(self) -> None:
        """Serve a new pad set (after a ceremony made a pad)."""
        with self._lock:
            self._stop_gateway()
            self._start_gateway()

    def stop(self) -> None:
        with self._lock:
            self._stop_gateway()
            if self.transport is not None:
                self.transport.close()
                self.transport = None
