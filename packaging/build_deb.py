"""Build reddoor_<version>_<arch>.deb: a self-contained virtualenv under /opt/reddoor, put
together in a staging tree and packed with `dpkg-deb` (packaging/README.md says why not
dh-virtualenv).

    python packaging/build_deb.py [--out DIR] [--compression xz|gzip] [--level 1-9]

Run it with a Python that has pip (the project's .venv: `make deb`). The virtualenv itself
uses the system's Python (/usr/bin/python3, resolved to /usr/bin/python3.X), which the package
then depends on; pip installs the project and its dependencies into it from the index pip is
configured with. Prints the path of the .deb on the last line.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGING = REPO / "packaging"
DEBIAN = PACKAGING / "debian"
PREFIX = Path("/opt/reddoor")
MAINTAINER_SCRIPTS = ("postinst", "prerm", "postrm")


class BuildError(Exception):
    """The package cannot be built; the message says what is missing."""


def project_version() -> str:
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return str(data["project"]["version"])


def debian_arch() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def system_python(python: str) -> Path:
    """The versioned interpreter (/usr/bin/python3.11): the venv links to it, the package
    depends on it, and an upgrade of the default python3 then cannot break the venv."""
    real = Path(python).resolve()
    if not real.name.startswith("python3.") or not real.is_file():
        raise BuildError(f"{python} is not a versioned system interpreter ({real})")
    return real


def make_venv(stage: Path, python: Path) -> Path:
    venv = stage / PREFIX.relative_to("/")
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(venv)], check=True)
    # pip runs from the builder's Python against the target interpreter (pip --python), so
    # the installed venv carries no pip of its own.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--quiet",
            "--no-compile",
            "--no-warn-script-location",
            str(REPO),
        ],
        check=True,
    )
    return venv


def relocate(venv: Path) -> None:
    """The venv was made at STAGE/opt/reddoor; make every path in it say /opt/reddoor."""
    old = str(venv).encode()
    for path in venv.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if old in data:
            path.write_bytes(data.replace(old, str(PREFIX).encode()))
    # pip's record of where the project came from (a build directory) means nothing installed.
    for direct_url in venv.glob("lib/python3*/site-packages/reddoor-*.dist-info/direct_url.json"):
        direct_url.unlink()
    for cache in sorted(venv.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache)


def normalise_modes(venv: Path) -> None:
    """Wheels unpack some libraries and modules with execute bits; nothing under lib/ is run
    directly (shared objects are loaded, modules imported), so lib/ is 0644 and 0755 dirs."""
    for path in (venv / "lib").rglob("*"):
        if path.is_symlink():
            continue
        path.chmod(0o755 if path.is_dir() else 0o644)


def install_file(src: Path, dest: Path, mode: int = 0o644) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    dest.chmod(mode)


def gzip_file(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as z:
        z.write(src.read_bytes())
    dest.chmod(0o644)


WRAPPER = """#!/bin/sh
# Red Door: the virtualenv's interpreter, isolated (-I: no PYTHONPATH, no user site, not the
# current directory on sys.path), so only the installed files under /opt/reddoor are imported.
exec {prefix}/bin/python3 -I -m app "$@"
"""


def install_tree(stage: Path) -> list[str]:
    """Everything outside the venv; returns the conffiles (absolute paths)."""
    usr = stage / "usr"
    wrapper = usr / "bin" / "reddoor"
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(WRAPPER.format(prefix=PREFIX), encoding="utf-8")
    wrapper.chmod(0o755)

    resources = REPO / "resources"
    install_file(resources / "reddoor.desktop", usr / "share/applications/reddoor.desktop")
    icons = usr / "share/icons/hicolor"
    install_file(resources / "icons/reddoor.svg", icons / "scalable/apps/reddoor.svg")
    for png in sorted((resources / "icons/hicolor").glob("*/apps/reddoor.png")):
        install_file(png, icons / png.relative_to(resources / "icons/hicolor"))

    # What the other parts of packaging/ hold at build time: units, rules, settings, kiosk.
    for unit in sorted((PACKAGING / "systemd").glob("*.service")):
        install_file(unit, stage / "lib/systemd/system" / unit.name)
    for rules in sorted((PACKAGING / "udev").glob("*.rules")):
        install_file(rules, stage / "lib/udev/rules.d" / rules.name)
    conffiles = []
    # The settings directory always comes (empty if no example settings are packaged yet): the
    # administrator writes /etc/reddoor/*.toml there (docs/deploy-link.md).
    (stage / "etc/reddoor").mkdir(parents=True, exist_ok=True)
    for settings in sorted((PACKAGING / "etc/reddoor").glob("*.toml")):
        install_file(settings, stage / "etc/reddoor" / settings.name)
        conffiles.append(f"/etc/reddoor/{settings.name}")
    session = PACKAGING / "kiosk" / "reddoor-kiosk-session"
    if session.is_file():
        install_file(session, stage / "usr/libexec/reddoor" / session.name, 0o755)
    for pam in sorted((PACKAGING / "kiosk/pam.d").glob("*")):
        install_file(pam, stage / "etc/pam.d" / pam.name)
        conffiles.append(f"/etc/pam.d/{pam.name}")

    # Monitoring: the alert rules (with their promtool unit tests) and the Grafana dashboard, for
    # the administrator to copy where Prometheus and Grafana read them (docs/operations.md).
    share = usr / "share/reddoor"
    for rules in sorted((PACKAGING / "prometheus").glob("*.yml")):
        install_file(rules, share / "prometheus" / rules.name)
    for board in sorted((PACKAGING / "grafana").glob("*.json")):
        install_file(board, share / "grafana" / board.name)

    doc = usr / "share/doc/reddoor"
    install_file(DEBIAN / "copyright", doc / "copyright")
    gzip_file(DEBIAN / "changelog", doc / "changelog.gz")
    for page in sorted((REPO / "docs").glob("*.md")):
        install_file(page, doc / page.name)
    install_file(PACKAGING / "README.md", doc / "packaging.md")
    gzip_file(DEBIAN / "reddoor.1", usr / "share/man/man1/reddoor.1.gz")
    install_file(DEBIAN / "lintian-overrides", usr / "share/lintian/overrides/reddoor")
    return conffiles


def installed_size_kib(stage: Path) -> int:
    total = sum(p.lstat().st_size for p in stage.rglob("*") if "DEBIAN" not in p.parts)
    return (total + 1023) // 1024


def md5sums(stage: Path) -> str:
    lines = []
    for path in sorted(stage.rglob("*")):
        rel = path.relative_to(stage)
        if rel.parts[0] == "DEBIAN" or path.is_symlink() or not path.is_file():
            continue
        digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        lines.append(f"{digest}  {rel}\n")
    return "".join(lines)


def _unfold(control: str, field: str) -> str:
    lines = control.split("\n")
    out: list[str] = []
    joining = False
    for line in lines:
        if joining and line.startswith(" "):
            out[-1] += " " + line.strip()
            continue
        joining = line.startswith(f"{field}:")
        out.append(line)
    return "\n".join(out)


def write_control(stage: Path, version: str, arch: str, python: Path, conffiles: list[str]) -> None:
    control_dir = stage / "DEBIAN"
    control_dir.mkdir(mode=0o755)
    fields = {
        "@VERSION@": version,
        "@ARCH@": arch,
        "@INSTALLED_SIZE@": str(installed_size_kib(stage)),
        "@PYTHON@": python.name,
    }
    control = (DEBIAN / "control").read_text(encoding="utf-8")
    for key, value in fields.items():
        control = control.replace(key, value)
    # The template folds the relation fields for reading; a binary package's control file
    # has each on one line (as dpkg-gencontrol writes it; lintian: multiline-field).
    for field in ("Depends", "Recommends", "Suggests"):
        control = _unfold(control, field)
    (control_dir / "control").write_text(control, encoding="utf-8")
    (control_dir / "md5sums").write_text(md5sums(stage), encoding="utf-8")
    if conffiles:
        (control_dir / "conffiles").write_text("".join(f"{c}\n" for c in conffiles))
    for name in MAINTAINER_SCRIPTS:
        install_file(DEBIAN / name, control_dir / name, 0o755)
    for path in control_dir.iterdir():
        if path.name not in MAINTAINER_SCRIPTS:
            path.chmod(0o644)


def build(out: Path, compression: str, level: int, python: str) -> Path:
    if shutil.which("dpkg-deb") is None:
        raise BuildError("dpkg-deb is missing (Debian package dpkg)")
    version, arch, interpreter = project_version(), debian_arch(), system_python(python)
    out.mkdir(parents=True, exist_ok=True)
    deb = out / f"reddoor_{version}_{arch}.deb"
    with tempfile.TemporaryDirectory(prefix="reddoor-deb-") as tmp:
        stage = Path(tmp) / "root"
        stage.mkdir(mode=0o755)
        os.umask(0o022)
        venv = make_venv(stage, interpreter)
        _step("virtualenv installed")
        relocate(venv)
        normalise_modes(venv)
        conffiles = install_tree(stage)
        write_control(stage, version, arch, interpreter, conffiles)
        _step("staging tree ready")
        subprocess.run(
            [
                "dpkg-deb",
                "--root-owner-group",
                f"-Z{compression}",
                f"-z{level}",
                "--build",
                str(stage),
                str(deb),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    _step(f"{deb.name} packed ({compression} -{level})")
    return deb


_T0 = time.monotonic()


def _step(what: str) -> None:
    print(f"build_deb: {time.monotonic() - _T0:6.1f} s  {what}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="build_deb", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="where the .deb goes")
    parser.add_argument(
        "--compression",
        choices=("xz", "gzip"),
        default="xz",
        help="dpkg-deb compression (lintian rejects zstd)",
    )
    parser.add_argument(
        "--level",
        type=int,
        choices=range(1, 10),
        default=6,
        metavar="1-9",
        help="compression level: xz 6 (default) ~100 s and 93 MB here, xz 1 ~18 s and 109 MB",
    )
    parser.add_argument("--python", default="/usr/bin/python3", help="the venv's interpreter")
    args = parser.parse_args(argv)
    try:
        deb = build(args.out, args.compression, args.level, args.python)
    except (BuildError, subprocess.CalledProcessError) as exc:
        print(f"build_deb: error: {exc}", file=sys.stderr)
        return 1
    print(deb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
