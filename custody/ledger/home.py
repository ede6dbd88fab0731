"""The facility home: settings, the encrypted ledger, and how its keys are reached.

    HOME/settings.json        what token and key labels this home uses (no secrets)
    HOME/ledger.db            the SQLCipher ledger
    HOME/ledger-key.sealed    the ledger's 256-bit database key, AES-256-GCM under an HSM key
    HOME/ledger.vkey          the checkpoint verifier key (public; give it to auditors)
    HOME/practice/            practice homes only: SoftHSM2 config, token directory, the
                              user PIN and the Security Officer PIN (0600)

Unlock flow (docs/ledger.md): read settings → open the token by label and log in with the PIN →
decrypt ledger-key.sealed on the token with the non-extractable AES key → open the SQLCipher
database with that key → check the HSM's Ed25519 public key matches the ledger's genesis event.
A production home never stores the PIN: it comes from --pin-file or a no-echo prompt.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import secrets
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from custody import canonical_json, hsm
from custody.bounded_read import read_file
from custody.durable_file import write_atomic
from custody.errors import HomeError, RedDoorError, UsageError
from custody.ledger import checkpoint
from custody.ledger import database as ledger_store
from custody.ledger.chain import Ledger, utc_now
from custody.ledger.officer_rules import SoLogin, token_identity

HOME_FORMAT = "reddoor-home/1"
SETTINGS = "settings.json"
LEDGER_DB = "ledger.db"
SEALED_KEY = "ledger-key.sealed"
VKEY = "ledger.vkey"
PRACTICE_DIR = "practice"
PIN_FILE = "token-pin"
SO_PIN_FILE = "token-so-pin"  # practice only: lets one person rehearse officer recovery
SOFTHSM_CONF = "softhsm2.conf"
TOKENS_DIR = "tokens"
MAX_SECRET_FILE_BYTES = 4096
MAX_SETTINGS_BYTES = 65_536  # settings.json is a few hundred bytes
MAX_SEALED_KEY_BYTES = 4096  # ledger-key.sealed: a 32-byte key, its nonce and tag


@dataclass(frozen=True)
class HomeSettings:
    format: str
    practice: bool
    pkcs11_module: str
    token_label: str
    ledger_id: str
    origin: str
    db_key_label: str
    signing_key_label: str
    created: str
    # Optional (docs/ledger.md): classification labels this facility keeps one-time pad only;
    # a ceremony writes them into every new pad's frame policy (custody.pad.frame_policy).
    otp_only_classifications: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        labels = self.otp_only_classifications
        if not isinstance(labels, (list, tuple)) or not all(isinstance(x, str) for x in labels):
            raise TypeError("otp_only_classifications must be a list of labels")
        object.__setattr__(self, "otp_only_classifications", tuple(labels))


def settings_json(settings: HomeSettings) -> bytes:
    """settings.json as written: the optional list only when it holds a label."""
    d = asdict(settings)
    if not settings.otp_only_classifications:
        del d["otp_only_classifications"]
    else:
        d["otp_only_classifications"] = list(settings.otp_only_classifications)
    return json.dumps(d, indent=2).encode() + b"\n"


def resolve_home(home: Path | None) -> Path:
    if home is None:
        env = os.environ.get("REDDOOR_HOME")
        if not env:
            raise HomeError("no facility home given: pass --home DIR or set REDDOOR_HOME")
        home = Path(env)
    return home.expanduser().resolve()


def read_secret_file(path: Path, what: str) -> str:
    """A PIN or passphrase from a file: first line, without its newline. Never echoed."""
    try:
        data = read_file(path, MAX_SECRET_FILE_BYTES, f"the {what} file")
    except OSError as exc:
        raise UsageError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8").split("\n", 1)[0].rstrip("\r")
    except UnicodeDecodeError:
        raise UsageError(f"the {what} file {path} is not UTF-8 text") from None
    if not text:
        raise UsageError(f"the {what} file {path} is empty")
    return text


def prompt_secret(what: str, *, confirm: bool = False) -> str:
    """A no-echo prompt on the terminal; refuses when there is no terminal."""
    if not sys.stdin.isatty():
        raise UsageError(f"no {what} given: pass --{what.lower().replace(' ', '-')}-file")
    value = getpass.getpass(f"{what}: ")
    if confirm and getpass.getpass(f"{what} again: ") != value:
        raise UsageError(f"the two {what}s differ")
    if not value:
        raise UsageError(f"an empty {what} is not allowed")
    return value


def secret_from(path: Path | None, what: str, *, confirm: bool = False) -> str:
    return (
        read_secret_file(path, what) if path is not None else prompt_secret(what, confirm=confirm)
    )


def read_sealed_key(home: Path) -> bytes:
    try:
        return read_file(
            home / SEALED_KEY, MAX_SEALED_KEY_BYTES, "sealed ledger key", error=HomeError
        )
    except OSError:
        raise HomeError(f"the sealed ledger key {home / SEALED_KEY} is missing") from None


def load_settings(home: Path) -> HomeSettings:
    path = home / SETTINGS
    if not path.exists():
        raise HomeError(f"{home} is not an initialised facility home (run reddoor init)")
    try:
        data = json.loads(read_file(path, MAX_SETTINGS_BYTES, "settings file", error=HomeError))
        settings = HomeSettings(**data)
    except (OSError, ValueError, TypeError):
        raise HomeError(f"the settings file {path} is damaged") from None
    if settings.format != HOME_FORMAT:
        raise HomeError(f"{path} is not a {HOME_FORMAT} settings file")
    return settings


def _softhsm_conf(home: Path, settings: HomeSettings) -> Path | None:
    return home / PRACTICE_DIR / SOFTHSM_CONF if settings.practice else None


def _db_key_aad(origin: str) -> bytes:
    return canonical_json.dumps({"log": origin, "purpose": "ledger-db-key"})


def init_home(
    home: Path,
    *,
    practice: bool,
    pin: str | None = None,
    token_label: str | None = None,
    module_path: str = hsm.DEFAULT_MODULE,
) -> HomeSettings:
    """Create a facility home. Practice: its own SoftHSM2 token and stored PIN. Refuses twice."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    taken = [
        n for n in (SETTINGS, LEDGER_DB, SEALED_KEY, VKEY, PRACTICE_DIR) if (home / n).exists()
    ]
    if taken:
        raise HomeError(
            f"{home} is already a facility home ({taken[0]} exists); refusing to overwrite"
        )
    ledger_id = secrets.token_hex(8)
    origin = f"reddoor.ledger/{ledger_id}"
    conf: Path | None = None
    if practice:
        token_label = token_label or f"reddoor-practice-{ledger_id[:8]}"  # labels: 32 chars
        pin, so_pin = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
        pdir = home / PRACTICE_DIR
        pdir.mkdir(mode=0o700)
        conf = pdir / SOFTHSM_CONF
        hsm.write_softhsm_conf(conf, pdir / TOKENS_DIR)
        write_atomic(pdir / PIN_FILE, pin.encode() + b"\n", mode=0o600)
        write_atomic(pdir / SO_PIN_FILE, so_pin.encode() + b"\n", mode=0o600)
        hsm.init_softhsm_token(conf, token_label, pin, module_path, so_pin=so_pin)
    elif not token_label or pin is None:
        raise UsageError("a production home needs --token-label and the token PIN")
    settings = HomeSettings(
        format=HOME_FORMAT,
        practice=practice,
        pkcs11_module=module_path,
        token_label=token_label,
        ledger_id=ledger_id,
        origin=origin,
        db_key_label=f"reddoor-ledger-db-{ledger_id}",
        signing_key_label=f"reddoor-ledger-checkpoint-{ledger_id}",
        created=utc_now(),
    )
    created_keys: list[str] = []
    token = hsm.Token.open(token_label, pin, module_path, softhsm_conf=conf)
    try:
        token.generate_aes_key(settings.db_key_label)
        created_keys.append(settings.db_key_label)
        public_key = token.generate_ed25519(settings.signing_key_label)
        created_keys.append(settings.signing_key_label)
        # The database key mixes the HSM RNG and the OS CSPRNG (either alone would do if good).
        db_key = bytes(a ^ b for a, b in zip(token.random(32), os.urandom(32), strict=True))
        write_atomic(
            home / SEALED_KEY, token.seal_secret(settings.db_key_label, db_key, _db_key_aad(origin))
        )
        conn = ledger_store.open_db(home / LEDGER_DB, db_key, create=True)
        try:
            info = token.info()
            ledger = Ledger.create(
                conn,
                origin=origin,
                public_key=public_key,
                signer=lambda data: token.sign_ed25519(settings.signing_key_label, data),
                genesis_payload={
                    "practice": practice,
                    "hsm": {
                        "label": info.label,
                        "model": info.model,
                        "manufacturer": info.manufacturer,
                        "serial": info.serial,
                    },
                    "db_key_label": settings.db_key_label,
                    "signing_key_label": settings.signing_key_label,
                },
            )
            ledger.checkpoint()
        finally:
            conn.close()
        (home / VKEY).write_text(checkpoint.vkey(origin, public_key) + "\n", encoding="utf-8")
        (home / VKEY).chmod(0o644)
        write_atomic(home / SETTINGS, settings_json(settings))
    except BaseException:
        for label in created_keys:
            with contextlib.suppress(RedDoorError):
                token.destroy_key(label)
        for name in (LEDGER_DB, f"{LEDGER_DB}-wal", f"{LEDGER_DB}-shm", SEALED_KEY, VKEY):
            with contextlib.suppress(OSError):
                (home / name).unlink()
        token.close()
        if practice:
            shutil.rmtree(home / PRACTICE_DIR, ignore_errors=True)
        raise
    token.close()
    return settings


class OpenHome:
    """An unlocked home: the logged-in token and the open ledger. Close it when done."""

    def __init__(self, home: Path, settings: HomeSettings, token: hsm.Token, ledger: Ledger):
        self.path = home
        self.settings = settings
        self.token = token
        self.ledger = ledger

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ledger.conn.close()
        self.token.close()

    def __enter__(self) -> OpenHome:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def vkey(self) -> str:
        return checkpoint.vkey(self.ledger.key_name, self.ledger.public_key)


def practice_pin(home: Path) -> str:
    return read_secret_file(home / PRACTICE_DIR / PIN_FILE, "PIN")


def practice_so_pin(home: Path) -> str:
    """A practice home's Security Officer PIN (homes made before recovery existed have none)."""
    if not (home / PRACTICE_DIR / SO_PIN_FILE).is_file():
        raise HomeError(
            f"the practice home {home} keeps no security officer PIN (it was made before officer "
            "recovery existed): recovery cannot be rehearsed in it; create a new practice home"
        )
    return read_secret_file(home / PRACTICE_DIR / SO_PIN_FILE, "SO PIN")


def prove_so_login(home: Path, so_pin: str | None = None) -> SoLogin:
    """Log in to the home's token as its Security Officer and out again (officer recovery).

    Must run while this process has the home closed (PKCS#11: one user type per application).
    `so_pin` None: a practice home's stored SO PIN. The PIN is used for the login only; what
    returns names the token and the time, for the ledger."""
    settings = load_settings(home)
    if so_pin is None:
        if not settings.practice:
            raise UsageError("this production home needs the security officer PIN")
        so_pin = practice_so_pin(home)
    info = hsm.prove_so_login(
        settings.token_label,
        so_pin,
        settings.pkcs11_module,
        softhsm_conf=_softhsm_conf(home, settings),
    )
    return SoLogin(token=token_identity(info.to_dict()), time=utc_now())


def open_home(home: Path, pin: str | None = None) -> OpenHome:
    """Unlock `home`: log in to its token, unseal the ledger key, open the ledger."""
    settings = load_settings(home)
    if pin is None:
        if not settings.practice:
            raise UsageError("this production home needs the token PIN (--pin-file or prompt)")
        pin = practice_pin(home)
    token = hsm.Token.open(
        settings.token_label,
        pin,
        settings.pkcs11_module,
        softhsm_conf=_softhsm_conf(home, settings),
    )
    try:
        ledger = open_ledger(home, settings, token)
    except BaseException:
        token.close()
        raise
    return OpenHome(home, settings, token, ledger)


def open_ledger_db(home: Path, settings: HomeSettings, token: hsm.Token, **kw: Any) -> Any:
    """Another SQLCipher connection to the home's ledger, unlocked with its logged-in token
    (an SQLite connection belongs to the thread that opened it unless `check_same_thread`
    is False, and then its user serialises every call)."""
    sealed = read_sealed_key(home)
    db_key = token.unseal_secret(settings.db_key_label, sealed, _db_key_aad(settings.origin))
    try:
        return ledger_store.open_db(home / LEDGER_DB, db_key, **kw)
    finally:
        del db_key


def open_ledger(home: Path, settings: HomeSettings, token: hsm.Token, **kw: Any) -> Ledger:
    """The home's ledger on a new connection (`open_ledger_db`), able to sign checkpoints."""
    public_key = token.ed25519_public_key(settings.signing_key_label)
    conn = open_ledger_db(home, settings, token, **kw)
    return Ledger(
        conn,
        public_key=public_key,
        signer=lambda data: token.sign_ed25519(settings.signing_key_label, data),
    )


def describe(settings: HomeSettings) -> dict[str, Any]:
    return asdict(settings)
