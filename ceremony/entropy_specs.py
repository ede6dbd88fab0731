"""The spellings of entropy sources on the command line (``ceremony run --source``) and in a
ceremony plan, and the sources they open.

The ceremony's default source factory (ceremony/run_context.py) calls `open_sources` with the
plan's spellings; the kinds themselves live in ceremony/entropy_sources.py (the OS CSPRNG, a
PKCS#11 token), ceremony/entropy_devices.py (devices, FIFOs) and ceremony/entropy_doubles.py
(test doubles).
"""

from __future__ import annotations

from collections.abc import Sequence

from ceremony.entropy_devices import DeviceSource
from ceremony.entropy_doubles import BiasedSource, StuckSource
from ceremony.entropy_sources import EntropySource, OsSource, Pkcs11Source, testing_enabled
from custody.errors import UsageError
from custody.ledger.home import OpenHome


def open_sources(specs: Sequence[str], oh: OpenHome, *, practice: bool) -> list[EntropySource]:
    """Entropy sources from their command-line spellings.

    ``hwrng`` (/dev/hwrng), ``pkcs11`` (the home's token RNG), ``os`` (the OS CSPRNG), a device
    or FIFO path; with REDDOOR_TESTING=1 also ``test:stuck``, ``test:biased``.
    """
    out: list[EntropySource] = []
    try:
        for spec in specs:
            if spec == "hwrng":
                out.append(DeviceSource())
            elif spec == "os":
                out.append(OsSource())
            elif spec == "pkcs11":
                info = oh.token.info()
                out.append(
                    Pkcs11Source(
                        oh.token.random,
                        model=info.model,
                        serial=info.serial,
                        label=info.label,
                        manufacturer=info.manufacturer,
                        module=info.module,
                    )
                )
            elif spec.startswith("test:"):
                if not testing_enabled():
                    raise UsageError(f"source {spec!r} exists only in the test suite")
                kind = spec[5:]
                if kind == "stuck":
                    out.append(StuckSource(0x5A, name="test-stuck"))
                elif kind == "biased":
                    out.append(BiasedSource(p=0.05, name="test-biased"))
                else:
                    raise UsageError(f"unknown test source {spec!r}")
            else:
                out.append(DeviceSource(spec, practice=practice))
    except BaseException:
        for s in out:
            s.close()
        raise
    return out
