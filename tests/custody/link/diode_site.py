"""The diode topology for tests: a facility home with vault pads, routers F and S with no Zenoh
path between them, the gateway on F, and the four bridges, each direction through a one-way
relay (tests/custody/link/diode_relay.py). Real processes throughout."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from custody.ledger import home
from custody.link import keys as link_keys
from custody.link.zenoh_transport import LinkConfig, Transport
from custody.pad import ids as pad_id
from custody.pad import vault
from custody.pad.manifest import Direction
from custody.pad.practice import make_practice_pad
from custody.pad.store import PAD_NAME, read_manifest
from tests.custody.link.diode_relay import OneWayRelay
from tests.custody.link.fixtures import REPO, free_endpoint, spawn, stop


def free_udp() -> tuple[str, int]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "127.0.0.1", port


class DiodeSite:
    """Facility home with `pads` vault pads; routers F and S; gateway on F; the bridges.
    `extra` adds options to a process by its name (gateway, send-w2f, receive-f2w, ...)."""

    def __init__(self, tmp: Path, pads: int, extra: dict[str, list[str]] | None = None) -> None:
        self.tmp = tmp
        self.extra = extra or {}
        self.home = tmp / "home"
        home.init_home(self.home, practice=True)
        self.workstations: list[Path] = []
        self.displays: list[str] = []
        for n in range(pads):
            m = make_practice_pad(tmp / f"p{n}", 1 << 20)
            fac = tmp / f"p{n}" / "facility"
            data = (fac / PAD_NAME).read_bytes()
            with home.open_home(self.home) as oh:
                vault.write_vault(
                    oh.path,
                    oh.token,
                    read_manifest(fac),
                    lambda i, m=m, data=data: bytearray(
                        data[i * m.chunk_size : (i + 1) * m.chunk_size]
                    ),
                )
            shutil.rmtree(fac)  # the facility copy lives in the vault only
            self.workstations.append(tmp / f"p{n}" / "workstation")
            self.displays.append(pad_id.display(m.pad_id))
        self.facility = free_endpoint()
        self.scif = free_endpoint()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.procs["router-f"] = spawn("router", "--listen", self.facility, ready="listening")
        self.procs["router-s"] = spawn("router", "--listen", self.scif, ready="listening")
        self.procs["gateway"] = spawn(
            "gateway", "--home", str(self.home), "--connect", self.facility,
            *self.extra.get("gateway", []), ready="serving",
            env={"REDDOOR_STATE_DIR": str(tmp / "gw-state")},
        )  # fmt: skip
        # receivers listen where the relays deliver; senders send into the relays
        self.w2f_listen, self.f2w_listen = free_udp(), free_udp()
        self.relay = {
            "w2f": OneWayRelay(self.w2f_listen, seed=13),
            "f2w": OneWayRelay(self.f2w_listen, seed=31),
        }
        for d in ("w2f", "f2w"):
            self.start_receiver(d)
            self.start_sender(d)

    def _udp(self, addr: tuple[str, int]) -> str:
        return f"udp/{addr[0]}:{addr[1]}"

    def start_receiver(self, d: str) -> None:
        listen = self.w2f_listen if d == "w2f" else self.f2w_listen
        router = self.facility if d == "w2f" else self.scif
        self.procs[f"receive-{d}"] = spawn(
            "diode", "receive", "--direction", d, "--connect", router,
            "--listen", self._udp(listen), "--stale-after", "3",
            *self.extra.get(f"receive-{d}", []), ready="listening on",
        )  # fmt: skip

    def start_sender(self, d: str) -> None:
        router = self.scif if d == "w2f" else self.facility
        self.procs[f"send-{d}"] = spawn(
            "diode", "send", "--direction", d, "--connect", router,
            "--to", self.relay[d].endpoint, "--heartbeat", "0.5",
            *self.extra.get(f"send-{d}", []), ready="sending",
        )  # fmt: skip

    def kill(self, name: str) -> None:
        p = self.procs[name]
        p.send_signal(signal.SIGKILL)
        p.wait()

    def status(self, d: str) -> dict:
        router = self.facility if d == "w2f" else self.scif
        t = Transport(LinkConfig.for_endpoint(router))
        try:
            replies = t.query(link_keys.diode_status_key(Direction(d)), 2.0)
        finally:
            t.close()
        assert replies, f"no {d} receiver answered"
        return json.loads(replies[0])

    def workstations_ask(
        self, n: int, tag: str, stop_file: Path | None = None
    ) -> list[subprocess.Popen[bytes]]:
        extra = [str(stop_file)] if stop_file else []
        return [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.custody.link.diode_workstation",
                    self.scif,
                    str(ws),
                    str(n),
                    f"{tag}{k}",
                    *extra,
                ],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=dict(os.environ),
            )
            for k, ws in enumerate(self.workstations)
        ]

    def close(self) -> None:
        for p in reversed(self.procs.values()):
            stop(p)
        for r in self.relay.values():
            r.close()


def results(procs: list[subprocess.Popen[bytes]]) -> list[dict]:
    rows = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err.decode(errors="replace")[-2000:]
        rows += [json.loads(line) for line in out.decode().splitlines()]
    return rows


def reconcile_all(cli, site: DiodeSite) -> None:
    for n, ws in enumerate(site.workstations):
        export = site.tmp / f"ws{n}.json"
        r = cli("pad", "export-consumption", "--pad", str(ws), "--out", str(export))
        assert r.returncode == 0, r.stderr
        r = cli(
            "pad", "reconcile", site.displays[n], "--workstation-journal", str(export),
            "--home", str(site.home),
        )  # fmt: skip
        assert r.returncode == 0, r.stdout + r.stderr


def wait_until(predicate, limit: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.1)
