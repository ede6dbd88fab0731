"""The practice link inside the application: an embedded Zenoh router and an echo gateway.

`make run` needs no other process: the router session listens on 127.0.0.1 (scouting off) and
the gateway serves the facility copies in HOME/facility-pads and the home's HSM vault over it,
answering with the echo backend. `start()` and `stop()` block (Zenoh, pad journals); the window
runs them on workers. The gateway keeps its own threads (custody.link.gateway); `stop()` joins
them.

Every query goes into the home's ledger as a `link.query` event, exactly as `reddoor gateway
--home` records it (`LedgerChronicleSink`): the reports, `pad status` and the custody view all
count the same events. The chronicle's thread opens its own SQLCipher connection to the ledger
(an SQLite connection belongs to the thread that opened it) with the facility's logged-in token
(custody.hsm.Token serialises PKCS#11 calls); the facility's own connection is never shared.
A practice pad in HOME/facility-pads that the ledger does not know yet (the starter pad of a
home made before `pad.practice_created` existed) is recorded before it is served.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from pathlib import Path

from custody.errors import LinkError
from custody.hsm import Token
from custody.ledger.home import load_settings, open_ledger
from custody.lifecycle.marks import MarksGuard
from custody.lifecycle.practice_pads import record_practice_pads
from custody.link.backends import EchoBackend
from custody.link.chronicle import Chronicle, LedgerChronicleSink
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


class HomeLedger:
    """The home's ledger on a connection of the calling thread, opened with a token that stays
    open (`LedgerChronicleSink`'s opener returns it; closing it closes the connection only)."""

    def __init__(self, home: Path, token: Token) -> None:
        self.ledger = open_ledger(home, load_settings(home), token)

    def close(self) -> None:
        self.ledger.conn.close()


class PracticeLink:
    """`home` is the facility home and its logged-in token: its HSM vault's pads are served,
    and every query is recorded in the home's ledger. Without it (tests serving a bare pads
    directory) nothing records the queries."""

    def __init__(
        self,
        pads_dir: Path,
        *,
        endpoint: str | None = None,
        state_dir: Path | None = None,
        echo_piece: int = 24,
        echo_delay: float = 0.02,
        home: tuple[Path, Token] | None = None,
    ) -> None:
        self.pads_dir = pads_dir
        self.endpoint = endpoint
        self.state_dir = state_dir
        self.backend = EchoBackend(piece=echo_piece, delay=echo_delay)
        self.home = home
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
            self._record_practice_pads()
            providers.append(DirectoryPadProvider(self.pads_dir, state_dir=self.state_dir))
        if self.home is not None and vault_pad_ids(self.home[0]):
            # Vault copies are checked against the home's ledger and mirrored into it, as the
            # headless gateway does (custody.lifecycle.marks): a restored copy is refused.
            self.guard = MarksGuard.for_home(
                self.home[0], load_settings(self.home[0]), self.home[1], actor="gateway:practice"
            )
            providers.append(
                VaultPadProvider(
                    self.home[0], self.home[1], state_dir=self.state_dir, guard=self.guard
                )
            )
        if not providers:
            log.info("practice gateway: no facility pads yet")
            return
        chronicle = None
        if self.home is not None:
            home, token = self.home
            chronicle = Chronicle(LedgerChronicleSink(lambda: HomeLedger(home, token)))
        try:
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
        except BaseException:
            if chronicle is not None:
                chronicle.close()
            raise
        try:
            gw.start()
        except BaseException:
            with contextlib.suppress(Exception):
                gw.stop()  # joins what started and closes the chronicle
            raise
        self.gateway = gw

    def _record_practice_pads(self) -> None:
        """Pads served from `pads_dir` that the ledger does not know get `pad.practice_created`
        first, so their queries are counted by every report (custody.lifecycle.practice_pads)."""
        if self.home is None:
            return
        home, token = self.home
        settings = load_settings(home)
        if not settings.practice:
            return
        led = HomeLedger(home, token)
        try:
            dirs = sorted(d for d in self.pads_dir.iterdir() if d.is_dir())
            done = record_practice_pads(
                led.ledger, dirs, practice=True, actor="gateway:practice", where="facility-pads"
            )
        finally:
            led.close()
        if done:
            log.info("practice gateway: %d practice pad(s) recorded in the ledger", len(done))

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
