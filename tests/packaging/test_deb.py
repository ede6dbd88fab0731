"""The Debian package, for real (issue #14, part 1): build it with packaging/build_deb.py,
`dpkg -i` it, run the installed `reddoor` from / with a clean environment, `dpkg -r` and
`dpkg -P` it, and run lintian on it (in the background while the install test runs).

Root only, and only on a machine where no reddoor package, user or state directory exists
yet: the test installs into /opt/reddoor, /usr/bin and /etc and must not mix with a real
installation. `make test` runs as root on Debian and installs dpkg-dev and lintian first.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
PACKAGING = REPO / "packaging"
PREFIX = Path("/opt/reddoor")
STATE = Path("/var/lib/reddoor")
# xz at level 1: the release format (lintian refuses zstd) at ~18 s instead of ~100 s.
BUILD_ARGS = ("--compression", "xz", "--level", "1")

pytestmark = pytest.mark.slow


def _exists(getter, name: str) -> bool:
    try:
        getter(name)
    except KeyError:
        return False
    return True


def _installed() -> bool:
    status = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Status}", "reddoor"],
        capture_output=True,
        text=True,
        check=False,
    )
    return status.returncode == 0 and status.stdout.strip() not in ("", "not-installed")


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "installs a Debian package: needs root"
    for tool in ("dpkg-deb", "dpkg", "lintian"):
        if shutil.which(tool) is None:
            return f"{tool} is missing (make test installs dpkg-dev and lintian)"
    if _installed():
        return "a reddoor package is installed on this machine: the test would replace it"
    if PREFIX.exists() or STATE.exists():
        return f"{PREFIX} or {STATE} exists: the test would mix with a real installation"
    if _exists(pwd.getpwnam, "reddoor") or _exists(grp.getgrnam, "reddoor"):
        return "a reddoor user or group exists: the test would mix with a real installation"
    return None


_REASON = _skip_reason()
if _REASON:
    pytestmark = [pytest.mark.slow, pytest.mark.skip(reason=_REASON)]


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 300):
    return subprocess.run(
        list(args), cwd="/", env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, subprocess.Popen]]:
    out = tmp_path_factory.mktemp("deb")
    build = subprocess.run(
        [sys.executable, str(PACKAGING / "build_deb.py"), "--out", str(out), *BUILD_ARGS],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    path = Path(build.stdout.strip().splitlines()[-1])
    assert path.name.startswith("reddoor_") and path.suffix == ".deb" and path.is_file()
    # lintian takes minutes on ~5,000 files: it runs while the install test does its work.
    report = out / "lintian.txt"
    with report.open("w") as sink:
        lintian = subprocess.Popen(
            ["lintian", "--tag-display-limit", "0", str(path)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd="/",
        )
    yield path, lintian
    if lintian.poll() is None:
        lintian.kill()
        lintian.wait()


@pytest.fixture
def cleanup() -> Iterator[None]:
    """Whatever happens, leave the machine as it was (the skip checks made sure nothing of a
    reddoor installation existed before)."""
    yield
    if _installed():
        run("dpkg", "--purge", "reddoor")
    shutil.rmtree(STATE, ignore_errors=True)
    if _exists(pwd.getpwnam, "reddoor"):
        run("deluser", "--system", "--quiet", "reddoor")
    if _exists(grp.getgrnam, "reddoor"):
        run("delgroup", "--system", "--quiet", "reddoor")


def clean_env(home: Path) -> dict[str, str]:
    """What a login shell would give: no PYTHONPATH, no virtualenv, no checkout anywhere."""
    return {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "REDDOOR_STATE_DIR": str(home / "state"),
    }


# Runs `reddoor demo` in the installed interpreter exactly as /usr/bin/reddoor does (-I -m app),
# then reports where every project module came from and what sys.path held.
PROBE = """
import atexit, json, runpy, sys
def report():
    mods = {n: getattr(m, "__file__", None) for n, m in list(sys.modules.items())
            if n.split(".")[0] in ("app", "ceremony", "custody", "resources")}
    print("PROBE " + json.dumps({"modules": mods, "path": sys.path}), file=sys.stderr)
atexit.register(report)
sys.argv = ["reddoor", "demo"]
runpy.run_module("app", run_name="__main__", alter_sys=True)
"""


def _package_files() -> list[Path]:
    listing = run("dpkg-query", "-L", "reddoor")
    assert listing.returncode == 0, listing.stderr
    return [Path(line) for line in listing.stdout.splitlines() if line.startswith("/")]


def _leftovers(files: list[Path], allowed: set[Path]) -> list[str]:
    """Paths of the package still present: only directories that other things still fill
    (/usr/bin, /opt…: dpkg removes a directory of ours once it is empty) and `allowed`."""
    left = []
    for path in files:
        if path in allowed or not os.path.lexists(path):
            continue
        # (a directory the system made a symlink, such as /lib on a merged-/usr Debian, counts
        # as the directory it points to)
        if path.is_dir() and any(path.iterdir()):
            continue
        left.append(str(path))
    return left


def test_install_run_remove_purge(deb, cleanup, tmp_path: Path) -> None:
    path, _lintian = deb
    install = run("dpkg", "-i", str(path))
    assert install.returncode == 0, install.stdout + install.stderr
    files = _package_files()
    env = clean_env(tmp_path)

    # -- what the package put where ------------------------------------------------------
    assert os.access("/usr/bin/reddoor", os.X_OK)
    assert Path("/usr/share/applications/reddoor.desktop").is_file()
    assert Path("/usr/share/icons/hicolor/scalable/apps/reddoor.svg").is_file()
    assert Path("/usr/share/icons/hicolor/48x48/apps/reddoor.png").is_file()
    for unit in (PACKAGING / "systemd").glob("*.service"):
        assert Path("/lib/systemd/system", unit.name).read_bytes() == unit.read_bytes()
    for rules in (PACKAGING / "udev").glob("*.rules"):
        assert Path("/lib/udev/rules.d", rules.name).read_bytes() == rules.read_bytes()
    for name, folder in (("prometheus", "*.yml"), ("grafana", "*.json")):
        shipped = sorted((PACKAGING / name).glob(folder))
        assert shipped, name
        for src in shipped:
            assert Path("/usr/share/reddoor", name, src.name).read_bytes() == src.read_bytes()
    conffiles = run("dpkg-query", "-W", "-f=${Conffiles}", "reddoor").stdout
    for settings in (PACKAGING / "etc/reddoor").glob("*.toml"):
        assert f"/etc/reddoor/{settings.name} " in conffiles
        assert Path("/etc/reddoor", settings.name).read_bytes() == settings.read_bytes()
    user = pwd.getpwnam("reddoor")
    assert user.pw_shell == "/usr/sbin/nologin" and user.pw_uid < 1000
    assert grp.getgrgid(user.pw_gid).gr_name == "reddoor"
    assert STATE.is_dir() and STATE.stat().st_uid == user.pw_uid
    assert oct(STATE.stat().st_mode & 0o777) == "0o750"

    # -- the installed command, from / with a clean environment -----------------------------
    version = run("/usr/bin/reddoor", "--version", env=env)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"reddoor {_project_version()}"
    demo = run("/usr/bin/reddoor", "demo", env=env)
    assert demo.returncode == 0, demo.stderr
    assert "Pad used:" in demo.stdout and "already consumed" in demo.stdout

    probe = run(str(PREFIX / "bin/python3"), "-I", "-c", PROBE, env=env)
    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stderr.split("PROBE ", 1)[1])
    assert {"app", "custody", "resources", "custody.fingerprint_words"} <= set(report["modules"])
    outside = {n: f for n, f in report["modules"].items() if not str(f).startswith(f"{PREFIX}/")}
    assert outside == {}, f"modules not from the installed files: {outside}"
    assert not [p for p in report["path"] if p in ("", ".") or p.startswith(str(REPO))]

    # archival PDF: pikepdf and the sRGB profile named by resources/color/ (Depends)
    pdf = tmp_path / "receipt.pdf"
    receipt = run("/usr/bin/reddoor", "receipt", "sample", "--out", str(pdf), "--archival", env=env)
    assert receipt.returncode == 0, receipt.stderr
    assert pdf.read_bytes().startswith(b"%PDF") and b"GTS_PDFA1" in pdf.read_bytes()

    # the desktop application starts from the installed files, with its icon
    settings = tmp_path / "app.json"
    settings.write_text(json.dumps({"mode": "workstation", "router_endpoint": "tcp/127.0.0.1:9"}))
    gui_env = dict(
        env,
        QT_QPA_PLATFORM="offscreen",
        REDDOOR_APP_EXIT_AFTER_SHOW="1",
        REDDOOR_APP_SETTINGS=str(settings),
        REDDOOR_HOME=str(tmp_path / "home"),
    )
    gui = run("/usr/bin/reddoor", env=gui_env)
    assert gui.returncode == 0, gui.stderr
    shown = json.loads([ln for ln in gui.stdout.splitlines() if ln.startswith("{")][-1])
    assert shown["shown"] and shown["window_icon"]

    # -- remove: only the conffiles (and the state) stay -------------------------------------
    Path("/etc/reddoor/admin-notes.toml").write_text("# written by the administrator\n")
    remove = run("dpkg", "-r", "reddoor")
    assert remove.returncode == 0, remove.stdout + remove.stderr
    assert not PREFIX.exists(), "the virtualenv (and its byte-code) must go with dpkg -r"
    kept_conffiles = {Path(c.split()[0]) for c in conffiles.splitlines() if c.strip()}
    assert _leftovers(files, kept_conffiles | {Path("/etc/reddoor")}) == []
    assert STATE.is_dir()

    # -- purge: settings and config go; a facility home stays, and so does its owner --------
    home = STATE / "home"
    home.mkdir()
    (home / "ledger.db").write_bytes(b"a facility's custody ledger")
    purge = run("dpkg", "-P", "reddoor")
    assert purge.returncode == 0, purge.stdout + purge.stderr
    assert not Path("/etc/reddoor").exists()
    assert _leftovers(files, set()) == []
    assert (home / "ledger.db").read_bytes() == b"a facility's custody ledger"
    assert _exists(pwd.getpwnam, "reddoor"), "the home's files keep their owner"
    assert "kept /var/lib/reddoor" in purge.stderr

    # -- postrm's other branch: no state left, so purge also removes the user and group ------
    # (the package's own postrm, run as dpkg runs it; a second install would cost ~30 s)
    shutil.rmtree(home)
    control = tmp_path / "control"
    assert run("dpkg-deb", "--control", str(path), str(control)).returncode == 0
    again = run(str(control / "postrm"), "purge")
    assert again.returncode == 0, again.stderr
    assert not STATE.exists()
    assert not _exists(pwd.getpwnam, "reddoor") and not _exists(grp.getgrnam, "reddoor")


def test_lintian_reports_no_errors(deb) -> None:
    """Overridden tags (packaging/debian/lintian-overrides, reasons in packaging/README.md) do
    not count; any other error does. Warnings are listed in packaging/README.md."""
    path, lintian = deb
    lintian.wait(timeout=900)
    report = (path.parent / "lintian.txt").read_text()
    errors = [line for line in report.splitlines() if line.startswith("E:")]
    assert errors == [], "\n".join(errors[:50])
    assert lintian.returncode == 0, report[-3000:]


def _project_version() -> str:
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
