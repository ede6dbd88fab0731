"""The HSM seam: the only module that imports `pkcs11` (python-pkcs11).

A `Token` is one long-lived, logged-in PKCS#11 session on a token selected by label. Every
PKCS#11 call in the process goes through one lock: python-pkcs11 calls C_Initialize(NULL), so
SoftHSM2 runs without its own mutexes and concurrent calls crash it (FIELD-NOTES.md). Login is
per token, not per session, so a process keeps one session per token and closes it only at the
end.

Keys are addressed by label. Secret keys are generated with EXTRACTABLE false and SENSITIVE
true, and `NEVER_EXTRACTABLE` / `ALWAYS_SENSITIVE` are checked after generation: a key that does
not report both is destroyed again and refused.

Practice homes use SoftHSM2 with a token directory inside the home: `SOFTHSM2_CONF` must point
at the home's configuration before the library initialises. `open_token(..., softhsm_conf=...)`
sets it and re-initialises the library when a different configuration was loaded before (only
possible while no session is open).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11e
from pkcs11.mechanisms import GCMParams
from pkcs11.util.ec import encode_named_curve_parameters

from custody.errors import (
    HsmError,
    HsmKeyMissing,
    HsmModuleMissing,
    HsmPinIncorrect,
    HsmTokenMissing,
)

log = logging.getLogger(__name__)

DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
ED25519_OID = "1.3.101.112"
GCM_NONCE_BYTES = 12
GCM_TAG_BITS = 128
_SEAL_MAGIC = b"RDS1"
LOGIN_LOCK_FILE = "softhsm.lock"  # beside a practice home's softhsm2.conf

# One lock for every PKCS#11 call in this process (re-entrant: helpers nest).
_LOCK = threading.RLock()
_LIBS: dict[str, Any] = {}
_open_sessions = 0


@dataclass(frozen=True)
class TokenInfo:
    label: str
    model: str
    manufacturer: str
    serial: str
    module: str

    def to_dict(self) -> dict[str, str]:
        return {
            "label": self.label,
            "model": self.model,
            "manufacturer": self.manufacturer,
            "serial": self.serial,
            "module": self.module,
        }


@contextlib.contextmanager
def _pkcs11_call(what: str) -> Iterator[None]:
    """Hold the lock and turn PKCS#11 failures into one-line HsmErrors (no secrets in them)."""
    with _LOCK:
        try:
            yield
        except HsmError:
            raise
        except (p11e.PinIncorrect, p11e.PinInvalid, p11e.PinLenRange) as exc:
            raise HsmPinIncorrect(f"{what}: the token refused the PIN") from exc
        except p11e.PinLocked as exc:
            raise HsmPinIncorrect(f"{what}: the token's PIN is locked") from exc
        except p11e.UserPinNotInitialized as exc:
            raise HsmPinIncorrect(f"{what}: the token has no user PIN set") from exc
        except p11e.PKCS11Error as exc:
            raise HsmError(f"{what}: the HSM refused ({type(exc).__name__})") from exc


def _library(module_path: str, softhsm_conf: Path | None) -> Any:
    """Load (once) the PKCS#11 module; switch SoftHSM2 configuration if asked. Holds _LOCK."""
    conf_changed = False
    if softhsm_conf is not None:
        wanted = str(softhsm_conf)
        if os.environ.get("SOFTHSM2_CONF") != wanted:
            os.environ["SOFTHSM2_CONF"] = wanted
            conf_changed = True
    lib = _LIBS.get(module_path)
    if lib is None:
        if not Path(module_path).is_file():
            raise HsmModuleMissing(f"PKCS#11 module not found: {module_path}")
        try:
            lib = pkcs11.lib(module_path)
        except p11e.PKCS11Error as exc:
            raise HsmModuleMissing(f"PKCS#11 module cannot be loaded: {module_path}") from exc
        _LIBS[module_path] = lib
    elif conf_changed:
        reload_module(module_path)
    return lib


def reload_module(module_path: str = DEFAULT_MODULE) -> None:
    """C_Finalize + C_Initialize: see tokens created (or a configuration set) since loading."""
    with _LOCK:
        lib = _LIBS.get(module_path)
        if lib is None:
            return
        if _open_sessions:
            raise HsmError(
                "cannot switch HSM token configuration while another token session is open"
            )
        with _pkcs11_call("re-initialising the PKCS#11 module"):
            lib.reinitialize()


class Token:
    """A logged-in session on one token. Thread-safe: every call holds the module lock."""

    def __init__(self, token: Any, session: Any, module_path: str) -> None:
        self._token = token
        self._session = session
        self._module = module_path
        self._keys: dict[tuple[str, Any], Any] = {}
        self._closed = False

    # -- life cycle -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        label: str,
        pin: str,
        module_path: str = DEFAULT_MODULE,
        softhsm_conf: Path | None = None,
    ) -> Token:
        """Open a read-write session on the token labelled `label` and log in with `pin`."""
        global _open_sessions
        with _LOCK, _token_dir_lock(softhsm_conf):
            token = _find_token(_library(module_path, softhsm_conf), label)
            with _pkcs11_call(f"logging in to token {label!r}"):
                session = token.open(rw=True, user_pin=pin)
            _open_sessions += 1
            return cls(token, session, module_path)

    def close(self) -> None:
        global _open_sessions
        with _LOCK:
            if self._closed:
                return
            self._closed = True
            self._keys.clear()
            try:
                self._session.close()
            except p11e.PKCS11Error:
                log.warning("closing the HSM session failed")
            _open_sessions -= 1

    def __enter__(self) -> Token:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _live(self) -> Any:
        if self._closed:
            raise HsmError("the HSM session is closed")
        return self._session

    # -- information ------------------------------------------------------------------------

    def info(self) -> TokenInfo:
        with _LOCK:
            return _token_info(self._token, self._module)

    def labels(self) -> list[str]:
        """Labels of every object visible to this session, sorted, without duplicates."""
        with _pkcs11_call("listing token objects"):
            return sorted({str(o[Attribute.LABEL]) for o in self._live().get_objects()})

    def has_key(self, label: str) -> bool:
        with _pkcs11_call("looking up a key"):
            return any(True for _ in self._live().get_objects({Attribute.LABEL: label}))

    def random(self, nbytes: int) -> bytes:
        """`nbytes` bytes from the token's RNG (python-pkcs11 counts in bits)."""
        if nbytes <= 0:
            return b""
        with _pkcs11_call("reading the HSM random number generator"):
            data = bytes(self._live().generate_random(nbytes * 8))
        if len(data) != nbytes:
            raise HsmError("the HSM returned fewer random bytes than asked")
        return data

    # -- keys -------------------------------------------------------------------------------

    def _key(self, label: str, object_class: Any, key_type: Any | None = None) -> Any:
        cache_key = (label, object_class)
        key = self._keys.get(cache_key)
        if key is not None:
            return key
        with _LOCK:
            try:
                key = self._live().get_key(
                    object_class=object_class, key_type=key_type, label=label
                )
            except p11e.NoSuchKey:
                raise HsmKeyMissing(f"the HSM has no key labelled {label!r}") from None
            except p11e.MultipleObjectsReturned:
                raise HsmError(f"the HSM holds more than one key labelled {label!r}") from None
            except p11e.PKCS11Error as exc:
                raise HsmError(f"cannot read key {label!r} ({type(exc).__name__})") from exc
        self._keys[cache_key] = key
        return key

    def _refuse_duplicate(self, label: str) -> None:
        if self.has_key(label):
            raise HsmError(f"the HSM already holds an object labelled {label!r}")

    def generate_aes_key(self, label: str) -> None:
        """A token-resident, non-extractable AES-256 key for encrypt/decrypt only."""
        self._refuse_duplicate(label)
        with _pkcs11_call(f"generating AES key {label!r}"):
            key = self._live().generate_key(
                KeyType.AES,
                256,
                label=label,
                store=True,
                capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
                template={
                    Attribute.EXTRACTABLE: False,
                    Attribute.SENSITIVE: True,
                    Attribute.WRAP: False,
                    Attribute.UNWRAP: False,
                    Attribute.SIGN: False,
                    Attribute.VERIFY: False,
                    Attribute.DERIVE: False,
                },
            )
            if not (key[Attribute.NEVER_EXTRACTABLE] and key[Attribute.ALWAYS_SENSITIVE]):
                key.destroy()
                raise HsmError(f"the HSM cannot keep key {label!r} non-extractable; refused")

    def generate_ed25519(self, label: str) -> bytes:
        """A token-resident Ed25519 pair (private key non-extractable); returns the public key."""
        self._refuse_duplicate(label)
        with _pkcs11_call(f"generating Ed25519 key {label!r}"):
            session = self._live()
            params = session.create_domain_parameters(
                KeyType.EC_EDWARDS,
                {Attribute.EC_PARAMS: encode_named_curve_parameters(ED25519_OID)},
                local=True,
            )
            _pub, priv = params.generate_keypair(
                store=True,
                label=label,
                mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
                capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                private_template={
                    Attribute.EXTRACTABLE: False,
                    Attribute.SENSITIVE: True,
                    Attribute.DERIVE: False,
                },
            )
            if not (priv[Attribute.NEVER_EXTRACTABLE] and priv[Attribute.ALWAYS_SENSITIVE]):
                priv.destroy()
                raise HsmError(f"the HSM cannot keep key {label!r} non-extractable; refused")
        return self.ed25519_public_key(label)

    def ed25519_public_key(self, label: str) -> bytes:
        """The raw 32-byte Ed25519 public key of the pair labelled `label`."""
        pub = self._key(label, ObjectClass.PUBLIC_KEY, KeyType.EC_EDWARDS)
        with _pkcs11_call(f"reading public key {label!r}"):
            point = bytes(pub[Attribute.EC_POINT])
        # CKA_EC_POINT is a DER OCTET STRING (04 20 || key) on SoftHSM; some modules give it raw.
        if len(point) == 34 and point[:2] == b"\x04\x20":
            point = point[2:]
        if len(point) != 32:
            raise HsmError(f"key {label!r} is not an Ed25519 public key")
        return point

    def sign_ed25519(self, label: str, data: bytes) -> bytes:
        priv = self._key(label, ObjectClass.PRIVATE_KEY, KeyType.EC_EDWARDS)
        with _pkcs11_call(f"signing with key {label!r}"):
            return bytes(priv.sign(data, mechanism=Mechanism.EDDSA))

    def encrypt_gcm(self, key_label: str, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        """AES-256-GCM on the token. Returns ciphertext || 16-byte tag. Never reuse a nonce."""
        if len(nonce) != GCM_NONCE_BYTES:
            raise HsmError("AES-GCM nonces are 12 bytes")
        key = self._key(key_label, ObjectClass.SECRET_KEY, KeyType.AES)
        with _pkcs11_call(f"encrypting with key {key_label!r}"):
            return bytes(
                key.encrypt(
                    plaintext,
                    mechanism=Mechanism.AES_GCM,
                    mechanism_param=GCMParams(nonce, aad, GCM_TAG_BITS),
                )
            )

    def decrypt_gcm(self, key_label: str, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        """Decrypt on the token; plaintext is released only when the tag verifies."""
        if len(nonce) != GCM_NONCE_BYTES:
            raise HsmError("AES-GCM nonces are 12 bytes")
        key = self._key(key_label, ObjectClass.SECRET_KEY, KeyType.AES)
        with _LOCK:
            try:
                return bytes(
                    key.decrypt(
                        ciphertext,
                        mechanism=Mechanism.AES_GCM,
                        mechanism_param=GCMParams(nonce, aad, GCM_TAG_BITS),
                    )
                )
            except (p11e.GeneralError, p11e.EncryptedDataInvalid, p11e.EncryptedDataLenRange):
                raise HsmError(
                    f"data encrypted under key {key_label!r} did not authenticate "
                    "(tampered, or the wrong key or context)"
                ) from None
            except p11e.PKCS11Error as exc:
                raise HsmError(f"decrypting with key {key_label!r} failed") from exc

    def seal_secret(self, key_label: str, secret: bytes, aad: bytes) -> bytes:
        """Encrypt a small secret under a token key: magic || nonce || ciphertext || tag."""
        nonce = self.random(GCM_NONCE_BYTES)
        return _SEAL_MAGIC + nonce + self.encrypt_gcm(key_label, nonce, aad, secret)

    def unseal_secret(self, key_label: str, blob: bytes, aad: bytes) -> bytes:
        head = len(_SEAL_MAGIC) + GCM_NONCE_BYTES
        if len(blob) < head + GCM_TAG_BITS // 8 or not blob.startswith(_SEAL_MAGIC):
            raise HsmError("the sealed secret is truncated or not in Red Door's format")
        return self.decrypt_gcm(key_label, blob[len(_SEAL_MAGIC) : head], aad, blob[head:])

    def destroy_key(self, label: str) -> int:
        """Destroy every object labelled `label`. Returns how many were destroyed."""
        with _pkcs11_call(f"destroying key {label!r}"):
            objects = list(self._live().get_objects({Attribute.LABEL: label}))
            for obj in objects:
                obj.destroy()
            self._keys = {k: v for k, v in self._keys.items() if k[0] != label}
            return len(objects)


@contextlib.contextmanager
def _token_dir_lock(softhsm_conf: Path | None) -> Iterator[None]:
    """Practice homes: one process at a time finds its SoftHSM2 token and logs in.

    SoftHSM2's file store fails when several processes discover the same token directory at the
    same instant (GeneralError, or "no token": measured 8 of 20 processes started together; see
    SoftHSMv2 issue 757). An exclusive flock beside the home's softhsm2.conf serialises those few
    milliseconds; later calls on an open session need no lock (0 failures in 32 such processes).
    Production modules are the vendor's business: no lock without a practice configuration.
    """
    if softhsm_conf is None:
        yield
        return
    try:
        fd = os.open(softhsm_conf.parent / LOGIN_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:  # a read-only practice home: go on unserialised, as before this lock
        log.debug("cannot create the SoftHSM2 login lock beside %s", softhsm_conf)
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _find_token(lib: Any, label: str) -> Any:
    try:
        return lib.get_token(token_label=label)
    except p11e.NoSuchToken:
        raise HsmTokenMissing(f"no HSM token labelled {label!r} is present") from None
    except p11e.MultipleTokensReturned:
        raise HsmTokenMissing(f"more than one HSM token is labelled {label!r}") from None
    except p11e.PKCS11Error as exc:
        raise HsmError(f"cannot list HSM tokens ({type(exc).__name__})") from exc


def _token_info(token: Any, module_path: str) -> TokenInfo:
    serial = token.serial
    if isinstance(serial, bytes):
        serial = serial.decode("ascii", "replace")
    return TokenInfo(
        label=str(token.label).strip(),
        model=str(token.model).strip(),
        manufacturer=str(token.manufacturer_id).strip(),
        serial=str(serial).strip(),
        module=module_path,
    )


def prove_so_login(
    label: str, so_pin: str, module_path: str = DEFAULT_MODULE, softhsm_conf: Path | None = None
) -> TokenInfo:
    """Log in to the token labelled `label` as its Security Officer, and out again.

    The officer-recovery path (custody.ledger.officers.recover) needs this proof that the SO PIN's
    holder took part. PKCS#11 lets an application be logged in as one user type at a time, so
    this runs while the process has no session open (before the home is unlocked). A wrong SO
    PIN is HsmPinIncorrect, and counts towards the token's SO PIN lockout. The PIN is not kept.
    """
    with _LOCK, _token_dir_lock(softhsm_conf):
        if _open_sessions:
            raise HsmError(
                "the security officer logs in before the facility home is unlocked, not after"
            )
        token = _find_token(_library(module_path, softhsm_conf), label)
        with _pkcs11_call(f"logging in to token {label!r} as its security officer"):
            session = token.open(rw=True, so_pin=so_pin)
        try:
            return _token_info(token, module_path)
        finally:
            with _pkcs11_call("closing the security officer's session"):
                session.close()  # logs the security officer out


# -- SoftHSM2 practice tokens ---------------------------------------------------------------


def write_softhsm_conf(conf_path: Path, token_dir: Path) -> None:
    """A SoftHSM2 configuration whose tokens live in `token_dir` (created 0700)."""
    token_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    conf_path.write_text(
        f"directories.tokendir = {token_dir}\nobjectstore.backend = file\nlog.level = ERROR\n"
        "slots.removable = false\n",
        encoding="utf-8",
    )
    conf_path.chmod(0o600)


def init_softhsm_token(
    conf_path: Path,
    label: str,
    pin: str,
    module_path: str = DEFAULT_MODULE,
    *,
    so_pin: str | None = None,
) -> None:
    """Initialise a fresh SoftHSM2 token labelled `label` whose user PIN is `pin`.

    softhsm2-util takes PINs only on its command line (or from a terminal), and PKCS#11 has no
    C_InitToken in python-pkcs11. So the token is created with random one-time PINs on argv,
    and both PINs are then changed through PKCS#11 (C_SetPIN): the real PINs never appear in a
    process list. The SO PIN becomes `so_pin` (a practice home keeps it, to rehearse officer
    recovery), or a random one that is discarded.
    """
    env = dict(os.environ, SOFTHSM2_CONF=str(conf_path))
    temp_so, temp_user = secrets.token_hex(8), secrets.token_hex(8)
    try:
        proc = subprocess.run(
            [
                "softhsm2-util",
                "--init-token",
                "--free",
                "--label",
                label,
                "--so-pin",
                temp_so,
                "--pin",
                temp_user,
            ],
            env=env,
            capture_output=True,
            check=False,
            timeout=60,
        )
    except FileNotFoundError:
        raise HsmModuleMissing("softhsm2-util is not installed (Debian package softhsm2)") from None
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = f": {lines[-1]}" if lines else ""
        raise HsmError(f"softhsm2-util could not initialise token {label!r}{detail}")
    with _LOCK:
        lib = _library(module_path, conf_path)
        reload_module(module_path)  # the token was created after the library loaded
        with _pkcs11_call(f"setting the PINs of token {label!r}"):
            token = lib.get_token(token_label=label)
            with token.open(rw=True, so_pin=temp_so) as so_session:
                so_session.set_pin(temp_so, so_pin or secrets.token_urlsafe(24))
            with token.open(rw=True, user_pin=temp_user) as user_session:
                user_session.set_pin(temp_user, pin)
