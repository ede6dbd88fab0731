"""Entropy sources: devices, FIFOs, files, PKCS#11, the OS CSPRNG, test doubles and policy."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from ceremony.entropy_devices import DeviceSource, hwrng_sysfs
from ceremony.entropy_doubles import BiasedSource, ReplaySource, StuckSource, seeded_bytes
from ceremony.entropy_sources import OS_DOMAIN, OsSource, Pkcs11Source, check_source_policy
from ceremony.errors import EntropyPolicyError, EntropySourceError

HWRNG = Path("/dev/hwrng")
hwrng_readable = HWRNG.exists() and os.access(HWRNG, os.R_OK)


class FakeToken:
    """Stands in for custody's HSM vault: generate_random(nbytes) -> bytes."""

    def __init__(self, bits_instead_of_bytes: bool = False) -> None:
        self.calls: list[int] = []
        self.bits = bits_instead_of_bytes

    def generate_random(self, nbytes: int) -> bytes:
        self.calls.append(nbytes)
        return os.urandom(nbytes * 8 if self.bits else nbytes)


# -- OS ---------------------------------------------------------------------------------------


def test_os_source_reads_exactly_and_identifies_itself():
    src = OsSource()
    assert len(src.read(0)) == 0
    assert len(src.read(12345)) == 12345
    ident = src.identity()
    assert ident["kind"] == "os" and ident["independence_domain"] == OS_DOMAIN
    assert src.hardware is False


def test_measure_rate_is_positive():
    assert OsSource().measure_rate(0.05) > 0


# -- devices, FIFOs, files --------------------------------------------------------------------


def test_missing_device_is_one_clear_line(tmp_path):
    with pytest.raises(EntropySourceError) as info:
        DeviceSource(tmp_path / "nope")
    assert str(info.value) == f"entropy device {tmp_path / 'nope'} does not exist"
    assert "\n" not in str(info.value)


def test_directory_is_refused(tmp_path):
    with pytest.raises(EntropySourceError, match="not a character device or a FIFO"):
        DeviceSource(tmp_path)


def test_char_device_reads(tmp_path):
    with DeviceSource("/dev/urandom") as src:
        assert src.kind == "device" and src.hardware
        assert len(src.read(70000)) == 70000
        ident = src.identity()
        assert ident["path"] == "/dev/urandom" and ident["device_number"] == "1:9"
        assert "rng_current" not in ident


@pytest.mark.skipif(not hwrng_readable, reason="/dev/hwrng absent or not readable")
def test_hwrng_identity_records_the_kernel_driver():
    with DeviceSource(HWRNG) as src:
        assert src.kind == "hwrng"
        ident = src.identity()
        assert ident["rng_current"] == hwrng_sysfs()["rng_current"]
        assert isinstance(ident["rng_available"], list)
        assert len(src.read(32)) == 32


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_permission_denied_is_clear(tmp_path):
    fifo = tmp_path / "locked"
    os.mkfifo(fifo, 0o000)
    with pytest.raises(EntropySourceError, match="permission denied"):
        DeviceSource(fifo)


def test_permission_denied_on_open_is_one_line(monkeypatch):
    import ceremony.entropy_devices as es

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(es.os, "open", denied)
    with pytest.raises(EntropySourceError) as info:
        DeviceSource("/dev/urandom")
    assert str(info.value) == "permission denied reading /dev/urandom"


def test_hwrng_permission_message_says_root_only():
    from ceremony.entropy_devices import _permission_message

    assert "root only" in _permission_message(HWRNG)


def test_fifo_source_with_writer_thread(tmp_path):
    fifo = tmp_path / "qrng.fifo"
    os.mkfifo(fifo)
    payload = os.urandom(300_000)

    def writer() -> None:
        with open(fifo, "wb") as f:
            for i in range(0, len(payload), 4096):
                f.write(payload[i : i + 4096])

    src = DeviceSource(fifo)
    assert src.kind == "fifo" and src.hardware
    t = threading.Thread(target=writer, daemon=True)
    t.start()
    got = src.read(100_000) + src.read(200_000)
    assert got == payload
    with pytest.raises(EntropySourceError, match="ended after 300,000 bytes"):
        src.read(1)
    src.close()
    t.join(5)


def test_regular_file_refused_outside_tests_and_practice(tmp_path, monkeypatch):
    f = tmp_path / "pad.bin"
    f.write_bytes(os.urandom(100))
    monkeypatch.delenv("REDDOOR_TESTING", raising=False)
    with pytest.raises(EntropyPolicyError, match="regular file"):
        DeviceSource(f)
    with DeviceSource(f, practice=True) as src:
        assert src.kind == "file" and not src.hardware
        assert len(src.read(100)) == 100
        with pytest.raises(EntropySourceError, match="ended after 100 bytes"):
            src.read(1)


# -- PKCS#11 ----------------------------------------------------------------------------------


def test_pkcs11_source_splits_requests_and_identifies_token():
    token = FakeToken()
    src = Pkcs11Source(token, model="YubiHSM", serial="0012345", label="facility", max_request=1000)
    assert len(src.read(2500)) == 2500
    assert token.calls == [1000, 1000, 500]
    ident = src.identity()
    assert ident == {
        "kind": "pkcs11",
        "name": "pkcs11:facility",
        "model": "YubiHSM",
        "serial": "0012345",
        "label": "facility",
        "software_token": False,
        "independence_domain": "pkcs11:YubiHSM:0012345",
    }
    assert src.hardware


def test_pkcs11_bits_for_bytes_mixup_is_caught():
    src = Pkcs11Source(FakeToken(bits_instead_of_bytes=True), model="X", serial="1", label="t")
    with pytest.raises(EntropySourceError, match="bits instead of bytes"):
        src.read(16)


def test_pkcs11_errors_become_one_line():
    class Broken:
        def generate_random(self, nbytes: int) -> bytes:
            raise RuntimeError("CKR_DEVICE_ERROR with secret detail")

    src = Pkcs11Source(Broken(), model="X", serial="1", label="t")
    with pytest.raises(EntropySourceError) as info:
        src.read(16)
    assert "secret" not in str(info.value) and "RuntimeError" in str(info.value)


def test_softhsm_counts_as_the_os_csprng():
    src = Pkcs11Source(FakeToken(), model="SoftHSM v2", serial="abc", label="practice")
    assert src.software_token and not src.hardware
    assert src.independence_domain == OS_DOMAIN
    assert not src.independent_of(OsSource())


# -- test doubles fail closed ----------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [lambda: StuckSource(0), lambda: BiasedSource(0.1), lambda: ReplaySource(b"x")],
)
def test_doubles_refuse_outside_tests_and_practice(make, monkeypatch):
    monkeypatch.delenv("REDDOOR_TESTING", raising=False)
    with pytest.raises(EntropyPolicyError, match="only in tests or practice"):
        make()


def test_doubles_allowed_in_practice(monkeypatch):
    monkeypatch.delenv("REDDOOR_TESTING", raising=False)
    assert StuckSource(7, practice=True).read(3) == b"\x07\x07\x07"


def test_doubles_behave():
    assert StuckSource(0xAA).read(4) == b"\xaa" * 4
    data = BiasedSource(p=0.5, value=0).read(10000)
    assert 4000 < data.count(0) < 6000
    stream = seeded_bytes(1)
    assert len(ReplaySource(stream).read(10)) == 10
    with pytest.raises(EntropySourceError, match="ran dry"):
        ReplaySource(b"abc").read(4)


# -- policy -----------------------------------------------------------------------------------


def hw(name: str = "hw"):
    return ReplaySource(seeded_bytes(1), name=name)


def test_os_alone_only_in_practice():
    with pytest.raises(EntropyPolicyError, match="practice mode only"):
        check_source_policy([OsSource()], practice=False)
    assert check_source_policy([OsSource()], practice=True)["mixing"] == "none"


def test_os_plus_software_token_is_not_hardware():
    soft = Pkcs11Source(FakeToken(), model="SoftHSM v2", serial="1", label="p")
    with pytest.raises(EntropyPolicyError, match="practice mode only"):
        check_source_policy([OsSource(), soft], practice=False)
    info = check_source_policy([OsSource(), soft], practice=True)
    assert info["all_independent"] is False
    assert info["dependent_pairs"] == [["os", "pkcs11:p"]]


def test_hardware_plus_os_is_allowed_in_production():
    info = check_source_policy([hw(), OsSource()], practice=False)
    assert info == {
        "mixing": "xor",
        "sources": ["hw", "os"],
        "all_independent": True,
        "dependent_pairs": [],
        "hardware_sources": ["hw"],
    }


def test_dependent_sources_refused_in_production():
    real = Pkcs11Source(FakeToken(), model="Luna", serial="9", label="a")
    same = Pkcs11Source(FakeToken(), model="Luna", serial="9", label="b")
    with pytest.raises(EntropyPolicyError, match="not independent"):
        check_source_policy([real, same], practice=False)


def test_no_source_refused():
    with pytest.raises(EntropyPolicyError, match="no entropy source"):
        check_source_policy([], practice=True)


def test_pkcs11_accepts_a_bound_random_method_and_token_info():
    info = {
        "label": "facility",
        "model": "SoftHSM v2",
        "manufacturer": "SoftHSM project",
        "serial": "5b3c",
        "module": "/usr/lib/softhsm/libsofthsm2.so",
    }
    src = Pkcs11Source(FakeToken().generate_random, **info)
    assert len(src.read(100)) == 100
    assert src.software_token and src.identity()["module"] == info["module"]


def test_pkcs11_reddoor_errors_keep_their_message():
    from custody.errors import RedDoorError

    def failing(nbytes: int) -> bytes:
        raise RedDoorError("the HSM is not connected")

    src = Pkcs11Source(failing, model="Luna", serial="1", label="vault")
    with pytest.raises(EntropySourceError, match="vault RNG failed: the HSM is not connected"):
        src.read(1)


def test_ceremony_entropy_modules_stay_qt_free():
    import subprocess
    import sys

    code = (
        "import sys, ceremony.entropy_sources, ceremony.entropy_devices, ceremony.entropy_doubles, "
        "ceremony.entropy_specs, ceremony.health_tests, ceremony.mixer, "
        "ceremony.pad_statistics, ceremony.sizing, ceremony.errors; "
        "assert 'PySide6' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
