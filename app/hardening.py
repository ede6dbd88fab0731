"""Start-up hardening for the desktop application (SecureDrop `start_app`, Electrum).

umask 077, no core dumps, one instance per user, and an exception hook that logs the exception
type and the stack (file, line, function: no locals, no exception text, which can carry data we
do not control) to a 0600 log in a 0700 directory, then tells the user where it is.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import resource
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

LOG_NAME = "reddoor-app.log"
LOCK_NAME = "reddoor-app.lock"


class AlreadyRunning(Exception):
    pass


def harden_process() -> None:
    os.umask(0o077)
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        log.warning("could not disable core dumps")


def app_state_dir() -> Path:
    env = os.environ.get("REDDOOR_STATE_DIR")
    base = Path(env) if env else Path.home() / ".local" / "state" / "reddoor"
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    return base


class SingleInstance:
    """An exclusive lock file; the OS releases it when the process dies (even kill -9)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyRunning(
                "Red Door is already running for this user (one instance at a time)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
            self._fd = None


def configure_file_logging(directory: Path) -> Path:
    path = directory / LOG_NAME
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    path.chmod(0o600)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)
    return path


def describe_exception(etype: type[BaseException], tb: TracebackType | None) -> str:
    """The type and the frames only: no exception text, no locals."""
    frames = traceback.extract_tb(tb)
    lines = [f"unhandled {etype.__module__}.{etype.__qualname__}"]
    lines += [f'  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames]
    return "\n".join(lines)


def install_excepthook(log_path: Path, show: Callable[[str], None] | None = None) -> None:
    def hook(etype: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(etype, KeyboardInterrupt):
            sys.__excepthook__(etype, value, tb)
            return
        logging.getLogger("reddoor.crash").error(describe_exception(etype, tb))
        if show is not None:
            with contextlib.suppress(Exception):
                show(
                    f"Red Door hit an internal error ({etype.__name__}). The details (without "
                    f"any secrets) are in {log_path}. Please report it."
                )

    sys.excepthook = hook
