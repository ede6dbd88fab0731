"""Activation in a production home: a PRODUCTION pad (real ceremony state machine, FIFO RNG
and removable-drive test doubles, see production_pad_setup.py) is served by the gateway only
once transferred, delivered and activated by two officers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ceremony.test_ceremony_support import one_line, run_cli

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_production_pad_is_activated_only_after_delivery(tmp_path):
    env = dict(os.environ, SOFTHSM2_CONF=str(tmp_path / "softhsm2.conf"))
    proc = subprocess.run(
        [sys.executable, "-m", "tests.acceptance.production_pad_setup", str(tmp_path),
         str(tmp_path / "out.json")],
        cwd=REPO, env=env, capture_output=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["mark"] == "PRODUCTION" and out["bag_serial"] == "RD-PROD-1"
    pad = out["pad_id"]
    cli_env = {"SOFTHSM2_CONF": env["SOFTHSM2_CONF"], "REDDOOR_HOME": str(tmp_path / "home")}
    pin = ["--pin-file", str(tmp_path / "pin")]
    officers = ["--officer", f"alice={tmp_path / 'alice.pass'}",
                "--officer", f"bob={tmp_path / 'bob.pass'}"]  # fmt: skip

    def step(*args: str) -> subprocess.CompletedProcess:
        return run_cli(*args, *pin, env=cli_env)

    def poll_suspends() -> bool:
        code = (
            "import sys\n"
            "from custody.ledger import home\nfrom custody.lifecycle import serving\n"
            "pin = open(sys.argv[2]).read().strip()\n"
            "with home.open_home(home.resolve_home(None), pin) as oh:\n"
            "    p = serving.LedgerStatePoll(oh, lambda: [bytes.fromhex(sys.argv[1])])\n"
            "    print(len(p())); p.close()\n"
        )
        r = subprocess.run(
            [sys.executable, "-c", code, pad, str(tmp_path / "pin")],
            cwd=REPO, env={**env, **cli_env}, capture_output=True, check=True,
        )  # fmt: skip
        return r.stdout.strip() == b"1"

    assert poll_suspends()  # a production gateway would not serve a sealed pad
    r = step("pad", "activate", pad, *officers)
    assert r.returncode == 51 and "is sealed: it cannot be activated" in one_line(r)
    r = step("custody", "transfer", pad, "--to", "courier", "--bag-serial", "RD-PROD-1", *officers)
    assert r.returncode == 0, r.stderr.decode()
    r = step("custody", "deliver", pad, "--received-by", "SCIF", "--bag-serial", "RD-PROD-1",
             *officers)  # fmt: skip
    assert r.returncode == 0, r.stderr.decode()
    assert poll_suspends()  # delivered is not yet active
    r = step("pad", "activate", pad, *officers, "--json")
    assert r.returncode == 0, r.stderr.decode()
    assert json.loads(r.stdout)["type"] == "pad.activated"
    assert not poll_suspends()  # active: served
    assert step("ledger", "verify").returncode == 0
    state = json.loads(step("custody", "state", pad, "--json").stdout)[0]
    assert state["state"] == "active" and state["mark"] == "PRODUCTION"
