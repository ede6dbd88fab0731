"""The server units in packaging/systemd/: they verify, their exposure is what docs/deploy-link.md
says (at most 2.0), they carry the hardening the issue asks for, and the one directive whose
breakage would only show at run time (MemoryDenyWriteExecute) is exercised for real.

PID 1 here is not systemd: units cannot be started. `systemd-analyze verify` and `security
--offline=true` read unit files (FIELD-NOTES); verify wants the ExecStart binary to exist, so each
unit is checked as a copy whose /usr/bin/reddoor names a stub in a temporary directory.
"""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

UNITS = REPO / "packaging" / "systemd"
# unit file -> (the command it runs, its settings file)
SERVERS = {
    "reddoor-router.service": ("router", "/etc/reddoor/router.toml"),
    "reddoor-gateway.service": ("gateway", "/etc/reddoor/gateway.toml"),
    "reddoor-diode-send@.service": ("diode send", "/etc/reddoor/diode-send-%i.toml"),
    "reddoor-diode-receive@.service": ("diode receive", "/etc/reddoor/diode-receive-%i.toml"),
}
MAX_EXPOSURE = 2.0
HARDENING = {
    "User": "reddoor",
    "Group": "reddoor",
    "Restart": "on-failure",
    "StandardOutput": "journal",
    "StandardError": "journal",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "CapabilityBoundingSet": "",
    "MemoryDenyWriteExecute": "yes",
    "SystemCallArchitectures": "native",
}

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (apt systemd)"
)


def _directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def _testable_copy(unit: str, tmp: Path) -> Path:
    """The unit (a template as its w2f instance) with /usr/bin/reddoor pointing at a stub."""
    stub = tmp / "reddoor"
    if not stub.exists():
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    text = (UNITS / unit).read_text().replace("/usr/bin/reddoor", str(stub))
    copy = tmp / unit.replace("@.", "@w2f.")
    copy.write_text(text)
    return copy


def exposure(unit: str, tmp: Path) -> float:
    out = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(_testable_copy(unit, tmp))],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d)", out)
    assert m, out[-2000:]
    return float(m.group(1))


def documented_exposures() -> dict[str, float]:
    text = (REPO / "docs" / "deploy-link.md").read_text()
    table = text.split("<!-- exposure table -->", 1)[1].split("\n\n", 1)[0]
    return {
        m.group(1): float(m.group(2))
        for m in re.finditer(r"^\| `([\w@.-]+\.service)` \| (\d+\.\d) \|", table, re.M)
    }


def test_every_server_unit_is_listed_and_shipped() -> None:
    assert {p.name for p in UNITS.glob("reddoor-*.service")} >= set(SERVERS)
    assert set(documented_exposures()) == set(SERVERS)


@pytest.mark.parametrize("unit", sorted(SERVERS))
def test_unit_runs_its_command_with_its_settings_and_hardening(unit: str) -> None:
    found = _directives((UNITS / unit).read_text())
    command, settings = SERVERS[unit]
    assert found["ExecStart"] == [f"/usr/bin/reddoor {command} --config {settings}"]
    assert found["ExecStartPre"] == [
        f"/usr/bin/reddoor {command} --config {settings} --check-config"
    ]
    for key, value in HARDENING.items():
        assert found.get(key) == [value], (unit, key)
    assert "@system-service" in found["SystemCallFilter"]
    assert found["StateDirectory"] and found["ConfigurationDirectory"] == ["reddoor"]
    assert found["Environment"] == ["REDDOOR_STATE_DIR=/var/lib/reddoor/state"]


def test_every_shipped_settings_file_has_the_units_name_form() -> None:
    """reddoor-diode-KIND@NAME.service reads diode-KIND-NAME.toml: each shipped example names an
    instance of a shipped template, and the router and gateway files exist."""
    names = {p.name for p in (REPO / "packaging" / "etc" / "reddoor").glob("*.toml")}
    assert {"router.toml", "gateway.toml"} <= names
    for kind in ("send", "receive"):
        assert {f"diode-{kind}-w2f.toml", f"diode-{kind}-f2w.toml"} <= names


@needs_analyze
@pytest.mark.parametrize("unit", sorted(SERVERS))
def test_systemd_analyze_verify_passes(unit: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(_testable_copy(unit, tmp_path))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


@needs_analyze
@pytest.mark.parametrize("unit", sorted(SERVERS))
def test_exposure_is_at_most_two_and_as_documented(unit: str, tmp_path: Path) -> None:
    measured = exposure(unit, tmp_path)
    assert measured <= MAX_EXPOSURE
    assert documented_exposures()[unit] == measured, "docs/deploy-link.md exposure table is stale"


# -- MemoryDenyWriteExecute, for real ------------------------------------------------------------
# systemd 252 enforces it with a seccomp filter; the kernel (6.3+) has the same rule as a process
# flag, PR_SET_MDWE (refuse a mapping both writable and executable, and making writable memory
# executable), inherited across fork and execve. The whole link runs under it here.
PR_SET_MDWE, PR_GET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 66, 1
MDWE_WRAPPER = """\
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl({set}, {flag}, 0, 0, 0) != 0:
    sys.exit(f"PR_SET_MDWE failed: errno {{ctypes.get_errno()}}")
os.execv({python!r}, [{python!r}, *sys.argv[1:]])
"""


def _mdwe_supported() -> bool:
    probe = f"import ctypes; print(ctypes.CDLL(None).prctl({PR_GET_MDWE}, 0, 0, 0, 0))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    return out.stdout.strip() == "0"  # 0: supported and not set; -1: no such prctl


@pytest.fixture
def mdwe_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`sys.executable` for this test: a Python that runs under PR_SET_MDWE."""
    if not _mdwe_supported():
        pytest.skip("the kernel has no PR_SET_MDWE (Linux 6.3+)")
    script = tmp_path / "mdwe.py"
    script.write_text(
        MDWE_WRAPPER.format(set=PR_SET_MDWE, flag=PR_MDWE_REFUSE_EXEC_GAIN, python=sys.executable)
    )
    wrapper = tmp_path / "python-mdwe"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {script} "$@"\n')
    wrapper.chmod(0o755)
    # The wrapper really sets the flag, and the kernel really refuses W+X memory under it.
    check = (
        "import ctypes, mmap\n"
        f"assert ctypes.CDLL(None).prctl({PR_GET_MDWE}, 0, 0, 0, 0) == 1\n"
        "try:\n"
        "    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
        "except PermissionError:\n"
        "    print('refused')\n"
    )
    out = subprocess.run([str(wrapper), "-c", check], capture_output=True, text=True)
    assert out.stdout.strip() == "refused", out.stderr
    monkeypatch.setattr(sys, "executable", str(wrapper))
    return wrapper


@pytest.mark.slow
def test_the_link_runs_under_memory_deny_write_execute(mdwe_python: Path, tmp_path: Path) -> None:
    """Routers, the gateway on an HSM (SoftHSM2) home with SQLCipher ledger, the four diode
    bridges (RaptorQ) and the workstations, all under the kernel's W^X rule: answers arrive."""
    from tests.custody.link.diode_site import DiodeSite, results

    site = DiodeSite(tmp_path, pads=1)
    try:
        rows = results(site.workstations_ask(3, "mdwe"))
    finally:
        site.close()
    assert len(rows) == 3 and all(r.get("exact") for r in rows), rows
