"""The kiosk station (issue 14, section 3): the session script under a real X server, the cage
unit checked offline, the udev rules run by udevadm against a real block device.

cage cannot run on these machines (no DRM device: FIELD-NOTES), so the session script that the
unit gives cage runs here under Xvfb with Qt's xcb platform and no window manager, exactly as
the unit would run it except for the platform (wayland there). The restart that this test sees
is the session script's own loop; the unit's Restart=always (for cage itself ending) is checked
offline only, with `systemd-analyze verify` and the unit's keys.

REDDOOR_KEEP_KIOSK_SHOTS=FILE.png keeps the first screenshot (to look at it yourself).
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
SESSION = PACKAGING / "kiosk" / "reddoor-kiosk-session"
UNIT = PACKAGING / "systemd" / "reddoor-kiosk.service"
UDEV = PACKAGING / "udev"
INSTALLED_SESSION = "/usr/libexec/reddoor/reddoor-kiosk-session"
SCREEN = (1024, 768)
LOCK_BACKGROUND = (0x1F, 0x23, 0x28)  # app/gui/kiosk.py LockScreen
BANNER = (0x00, 0x7A, 0x33)  # the practice classification banner (InstallSettings default)


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (the Makefile installs them for make test)")


def wait_for(what: str, probe: Callable[[], object], timeout: float = 90) -> object:
    """Poll until probe() returns something truthy; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = probe()
        if got:
            return got
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}")


# -- the session under Xvfb -------------------------------------------------------------------
@pytest.fixture
def xserver(tmp_path: Path) -> Iterator[str]:
    """A bare Xvfb (no window manager) at the kiosk's screen size; yields its DISPLAY."""
    need("Xvfb", "xwininfo", "xprop", "import")
    read, write = os.pipe()
    size = f"{SCREEN[0]}x{SCREEN[1]}x24"
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-nolisten", "tcp", "-screen", "0", size],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()
    assert number.isdigit(), "Xvfb did not report its display"
    try:
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def kiosk_home(tmp_path: Path) -> Path:
    """What the installer prepares before enabling the kiosk: a facility home (a practice one
    here) and the application settings that fix kiosk mode."""
    from app.gui.facility import create_practice_facility

    create_practice_facility(tmp_path / "home", starter_pad=False)
    # No practice link: the test is about the station, not the Zenoh router. No "kiosk": true
    # either (an install would set it too): here only the session script's --kiosk makes it one.
    settings = {"mode": "custody", "router_endpoint": "tcp/127.0.0.1:9"}
    (tmp_path / "app.json").write_text(json.dumps(settings))
    return tmp_path / "home"


def start_session(tmp_path: Path, display: str, home: Path) -> subprocess.Popen[bytes]:
    """The unit's session script, with the environment systemd would give it (nothing of the
    test's own), QT_QPA_PLATFORM=xcb instead of wayland, and REDDOOR_BIN pointing at this
    checkout's `reddoor` (the script itself adds --kiosk)."""
    wrapper = tmp_path / "reddoor"
    wrapper.write_text(f'#!/bin/sh\ncd "{REPO}" && exec "{sys.executable}" -m app "$@"\n')
    wrapper.chmod(0o755)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DISPLAY": display,
        "XDG_RUNTIME_DIR": str(runtime),
        "QT_QPA_PLATFORM": "xcb",
        "REDDOOR_BIN": str(wrapper),
        "REDDOOR_HOME": str(home),
        "REDDOOR_STATE_DIR": str(tmp_path / "state"),
        "REDDOOR_APP_SETTINGS": str(tmp_path / "app.json"),
    }
    return subprocess.Popen(
        [str(SESSION)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "session.log", "wb"),
        start_new_session=True,
    )


def stop_session(proc: subprocess.Popen[bytes]) -> None:
    """systemd's stop: SIGTERM to the whole session (script and application)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def x(display: str, *cmd: str) -> str:
    r = subprocess.run(
        cmd, env={**os.environ, "DISPLAY": display}, capture_output=True, text=True, timeout=30
    )
    return r.stdout if r.returncode == 0 else ""


def red_door_window(display: str) -> dict[str, object] | None:
    """The viewable top-level window titled "Red Door": id, geometry, _NET_WM_PID, state."""
    for line in x(display, "xwininfo", "-root", "-children").splitlines():
        m = re.match(r'\s*(0x[0-9a-f]+) "Red Door"', line)
        if not m:
            continue
        wid = m.group(1)
        info = x(display, "xwininfo", "-id", wid)
        if "IsViewable" not in info:
            continue
        geo = {
            k: int(v)
            for k, v in re.findall(r"(Width|Height|Absolute upper-left [XY]):\s+(-?\d+)", info)
        }
        pid = re.search(r"= (\d+)", x(display, "xprop", "-id", wid, "_NET_WM_PID"))
        return {
            "id": wid,
            "size": (geo.get("Width"), geo.get("Height")),
            "origin": (geo.get("Absolute upper-left X"), geo.get("Absolute upper-left Y")),
            "pid": int(pid.group(1)) if pid else None,
            "state": x(display, "xprop", "-id", wid, "_NET_WM_STATE"),
        }
    return None


def screenshot(display: str, path: Path):
    """The whole X screen as ImageMagick's `import` sees it (not the application's own grab)."""
    from PySide6.QtGui import QImage

    subprocess.run(
        ["import", "-window", "root", str(path)],
        env={**os.environ, "DISPLAY": display},
        check=True,
        capture_output=True,
        timeout=60,
    )
    img = QImage(str(path))
    assert not img.isNull(), f"import wrote no readable PNG at {path}"
    return img


def rgb(img, px: int, py: int) -> tuple[int, int, int]:
    c = img.pixelColor(px, py)
    return (c.red(), c.green(), c.blue())


def lock_screen_shown(img) -> bool:
    """The lock screen fills the middle of the screen: most of a sampled grid is its dark
    background, the classification banners are at the top and bottom edges, and the middle
    band carries light text (the title "Red Door is locked" and the unlock button)."""
    w, h = img.width(), img.height()
    grid = [
        (gx * w // 20, h // 6 + gy * (2 * h // 3) // 10) for gx in range(1, 20) for gy in range(11)
    ]
    dark = sum(rgb(img, px, py) == LOCK_BACKGROUND for px, py in grid)
    banners = rgb(img, w // 2, 3) == BANNER and rgb(img, w // 2, h - 3) == BANNER
    band = [
        rgb(img, px, py) for px in range(w // 4, 3 * w // 4) for py in range(h // 3, 2 * h // 3, 2)
    ]
    light = sum(min(c) > 200 for c in band)
    return dark > 0.8 * len(grid) and banners and light > 100


@pytest.mark.slow
def test_kiosk_session_comes_up_full_screen_locked_and_comes_back_locked_after_sigkill(
    tmp_path: Path, xserver: str, kiosk_home: Path
) -> None:
    session = start_session(tmp_path, xserver, kiosk_home)
    try:
        first = wait_for("the Red Door window", lambda: red_door_window(xserver))
        assert isinstance(first, dict)
        # Full screen without a window manager: the window itself covers the screen.
        assert first["size"] == SCREEN and first["origin"] == (0, 0), first
        assert "_NET_WM_STATE_FULLSCREEN" in str(first["state"]), first
        shot = tmp_path / "kiosk-locked.png"
        wait_for(
            "the lock screen on the X screen", lambda: lock_screen_shown(screenshot(xserver, shot))
        )
        pid = first["pid"]
        assert isinstance(pid, int)
        # The killed process is the application the script started, not the script.
        status = Path(f"/proc/{pid}/status").read_text()
        assert re.search(rf"^PPid:\s+{session.pid}$", status, re.M), status
        os.kill(pid, signal.SIGKILL)

        def replaced() -> dict[str, object] | None:
            w = red_door_window(xserver)
            return w if w is not None and w["pid"] not in (None, pid) else None

        second = wait_for("the restarted window", replaced)
        assert isinstance(second, dict)
        assert not Path(f"/proc/{pid}").exists(), "the killed application is still there"
        assert second["size"] == SCREEN and second["origin"] == (0, 0), second
        shot2 = tmp_path / "kiosk-after-kill.png"
        wait_for(
            "the lock screen after the kill", lambda: lock_screen_shown(screenshot(xserver, shot2))
        )
        assert session.poll() is None, "the session script ended instead of restarting"
        log = (tmp_path / "session.log").read_text()
        assert "exited with status -9" in log or "exited with status 137" in log, log
        if os.environ.get("REDDOOR_KEEP_KIOSK_SHOTS"):
            shutil.copy(shot, os.environ["REDDOOR_KEEP_KIOSK_SHOTS"])
    finally:
        stop_session(session)


def test_lock_screen_check_refuses_a_blank_screen(tmp_path: Path) -> None:
    """The pixel check above cannot pass on a black, a banner-only or an unlocked screen."""
    from PySide6.QtGui import QColor, QImage

    blank = QImage(*SCREEN, QImage.Format.Format_RGB32)
    blank.fill(QColor(0, 0, 0))
    assert not lock_screen_shown(blank)
    dark_only = QImage(*SCREEN, QImage.Format.Format_RGB32)
    dark_only.fill(QColor(*LOCK_BACKGROUND))
    assert not lock_screen_shown(dark_only)  # no banners, no text: not the application


# -- the cage unit, offline -------------------------------------------------------------------
def unit_keys() -> dict[str, list[str]]:
    """Every Key=value of the unit, all values of a repeated key (section names dropped)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    keys: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            k, v = line.split("=", 1)
            keys.setdefault(k.strip(), []).append(v.strip())
    return keys


def test_kiosk_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """`systemd-analyze verify` (systemd 252, no running systemd needed) with no warning about
    the unit: it also warns, with exit 0, about keys and values it does not understand."""
    need("systemd-analyze", "cage")
    unit = tmp_path / UNIT.name
    shutil.copy(UNIT, unit)
    r = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    about_unit = [ln for ln in r.stderr.splitlines() if UNIT.name in ln]
    assert not about_unit, "\n".join(about_unit)


def test_kiosk_unit_runs_cage_on_tty1_unprivileged_and_always_restarts() -> None:
    keys = unit_keys()
    one = {k: v[-1] for k, v in keys.items()}
    assert one["ExecStart"] == f"/usr/bin/cage -d -- {INSTALLED_SESSION}"
    assert one["User"] == "reddoor-kiosk" and one["SupplementaryGroups"] == "reddoor"
    assert one["Restart"] == "always"
    assert "getty@tty1.service" in one["Conflicts"]
    assert one["TTYPath"] == "/dev/tty1" and one["UtmpIdentifier"] == "tty1"
    assert one["PAMName"] == "reddoor-kiosk"
    assert (PACKAGING / "kiosk" / "pam.d" / one["PAMName"]).is_file()
    assert one["WantedBy"] == "graphical.target"
    # What the unit gives cage is what the Xvfb test ran.
    assert Path(one["ExecStart"].split(" -- ", 1)[1]).name == SESSION.name
    assert os.access(SESSION, os.X_OK)


def test_session_script_defaults_to_wayland_and_the_installed_reddoor() -> None:
    text = SESSION.read_text()
    assert ': "${QT_QPA_PLATFORM:=wayland}"' in text
    assert ': "${REDDOOR_BIN:=/usr/bin/reddoor}"' in text
    assert '"$REDDOOR_BIN" --kiosk' in text
    r = subprocess.run(["sh", "-n", str(SESSION)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


# -- udev rules, run by udevadm against a real block device -----------------------------------
UDEV_SCRIPT = r"""
set -e
T={tmp}
# Everything below happens in this private mount namespace: the machine's /etc, /run/udev and
# udev rules are untouched.
mount -t tmpfs tmpfs $T/mnt
mkdir $T/mnt/upper $T/mnt/work
# A machine where udev never ran has no /run/udev: then a fresh /run, private to this namespace.
if [ -d /run/udev ]; then mount -t tmpfs tmpfs /run/udev
else mount -t tmpfs tmpfs /run && mkdir /run/udev; fi
mount -t overlay overlay -o lowerdir=/etc,upperdir=$T/mnt/upper,workdir=$T/mnt/work /etc
mkdir -p /etc/reddoor /etc/udev/rules.d
getent group reddoor >/dev/null || echo 'reddoor:x:4242:' >> /etc/group
getent passwd reddoor-kiosk >/dev/null ||
    echo 'reddoor-kiosk:x:4243:4242::/:/usr/sbin/nologin' >> /etc/passwd
cp {rules} /etc/udev/rules.d/
run() {{ echo "@@@reddoor-case $1"; udevadm test --action=add /sys/block/{dev} 2>&1; }}
run "not a kiosk, not usb"
touch /etc/reddoor/kiosk-station
run "kiosk, not usb"
# Stands in for 60-persistent-storage's usb_id (no USB bus on these VMs): the loop device is
# a USB disk from here on, nothing else about it changes.
echo 'KERNEL=="{dev}", ENV{{ID_BUS}}="usb"' > /etc/udev/rules.d/61-test-usb.rules
run "kiosk, usb"
rm /etc/reddoor/kiosk-station
run "not a kiosk, usb"
"""


@pytest.fixture
def loop_device(tmp_path: Path) -> Iterator[str]:
    """A real block device with an ext4 filesystem (a pad stick's stand-in)."""
    if os.geteuid() != 0:
        pytest.skip("needs root (loop devices, a private mount namespace)")
    need("udevadm", "losetup", "mkfs.ext4", "unshare")
    img = tmp_path / "stick.img"
    with open(img, "wb") as f:
        f.truncate(16 << 20)
    subprocess.run(["mkfs.ext4", "-q", str(img)], check=True, timeout=60)
    dev = subprocess.run(
        ["losetup", "-f", "--show", str(img)], check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        yield Path(dev).name
    finally:
        subprocess.run(["losetup", "-d", dev], check=False, timeout=60)


def udev_runs(tmp_path: Path, dev: str) -> dict[str, str]:
    (tmp_path / "mnt").mkdir()
    rules = " ".join(str(p) for p in sorted(UDEV.glob("*.rules")))
    script = UDEV_SCRIPT.format(tmp=tmp_path, rules=rules, dev=dev)
    r = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    parts = re.split(r"^@@@reddoor-case (.*)$", r.stdout, flags=re.M)[1:]
    return dict(zip(parts[::2], parts[1::2], strict=True))


@pytest.mark.slow
def test_udev_rules_load_cleanly_and_hide_and_mount_usb_sticks_only_on_a_kiosk(
    tmp_path: Path, loop_device: str
) -> None:
    runs = udev_runs(tmp_path, loop_device)
    for name, out in runs.items():
        # udev names a bad line "FILE:LINE message" while loading (invalid key, unknown group…).
        bad = [
            ln
            for ln in out.splitlines()
            if re.match(r"/etc/udev/rules\.d/\d+-reddoor-[\w-]+\.rules:\d+ ", ln)
        ]
        assert not bad, f"{name}: " + "\n".join(bad)
        for rules in UDEV.glob("*.rules"):
            assert f"Reading rules file: /etc/udev/rules.d/{rules.name}" in out, name
    kiosk_usb = runs["kiosk, usb"]
    for prop in ("UDISKS_IGNORE=1", "UDISKS_AUTO=0", "UDISKS_SYSTEM=1"):
        assert re.search(rf"^{prop}$", kiosk_usb, re.M), prop
    mount = re.search(r"^run: '(/usr/bin/systemd-mount .*)'$", kiosk_usb, re.M)
    assert mount, kiosk_usb
    assert mount.group(1).endswith(f"/dev/{loop_device} /media/reddoor-pad")
    assert "--options=nodev,nosuid,noexec" in mount.group(1)
    for name in ("not a kiosk, not usb", "kiosk, not usb", "not a kiosk, usb"):
        assert "UDISKS_IGNORE" not in runs[name], name
        assert "/media/reddoor-pad" not in runs[name].split("run:", 1)[-1], name
