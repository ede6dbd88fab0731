"""Helpers for link tests: free ports, subprocesses that announce readiness, a wire capture."""

from __future__ import annotations

import itertools
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from custody.link import keys as link_keys
from custody.link.zenoh_transport import LinkConfig, Transport
from custody.pad import frame

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def free_endpoint() -> str:
    return f"tcp/127.0.0.1:{free_port()}"


def spawn(*args: str, ready: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start `reddoor ARGS`; wait until its stderr says `ready` (no timing assertion)."""
    full = dict(os.environ)
    full.update(env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    lines: list[bytes] = []
    while True:
        line = proc.stderr.readline()
        if not line:
            raise RuntimeError(f"{args[0]} exited: {b''.join(lines).decode(errors='replace')}")
        lines.append(line)
        if ready.encode() in line:
            break
    # keep draining stderr so the child never blocks on a full pipe
    proc.captured = lines  # type: ignore[attr-defined]
    threading.Thread(
        target=lambda: lines.extend(iter(proc.stderr.readline, b"")), daemon=True
    ).start()
    return proc


def popen_ask(args: list[str], question: bytes) -> subprocess.Popen[bytes]:
    """Start `reddoor ask ARGS` with `question` on its stdin (never in argv), stdout and stderr
    piped. The question waits in a pipe closed for writing (so at most 64 KiB)."""
    assert len(question) < 65536, "a pipe holds 64 KiB"
    r, w = os.pipe()
    try:
        os.write(w, question)
    finally:
        os.close(w)
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "app", "ask", *args],
            cwd=REPO,
            env=dict(os.environ),
            stdin=r,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    finally:
        os.close(r)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Capture:
    """Every frame on `reddoor/v1/pad/**`, as a separate client of the router."""

    def __init__(self, endpoint: str) -> None:
        self.transport = Transport(LinkConfig.for_endpoint(endpoint))
        self.frames: list[tuple[str, bytes]] = []
        self.q: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._lock = threading.Lock()
        self.sub = self.transport.subscribe(link_keys.ALL_PAD_FRAMES, self._on)

    def _on(self, key: str, data: bytes) -> None:
        with self._lock:
            self.frames.append((key, data))
        self.q.put((key, data))

    def wait_for(self, predicate, limit: float = 60.0) -> None:  # type: ignore[no-untyped-def]
        end = time.monotonic() + limit
        while not predicate():
            if time.monotonic() > end:
                raise AssertionError("condition not reached")
            time.sleep(0.02)

    def count(self, direction: str) -> int:
        with self._lock:
            return sum(1 for k, _ in self.frames if k.endswith("/" + direction))

    def assert_no_reuse(self) -> int:
        """No two different frames share a pad byte, per pad and direction; pad-keyed frames
        under one key share its range, each with its own key index (its nonce)."""
        with self._lock:
            distinct = {(k, d) for k, d in self.frames}
        by_dir: dict[str, list[tuple[int, int, bytes]]] = {}
        keys: dict[tuple[str, int], set[int]] = {}
        for k, d in distinct:
            h = frame.parse_header(d)
            if h.mode is frame.FrameMode.PAD_KEYED:
                seen = keys.setdefault((k, h.offset), set())
                assert h.key_index not in seen, f"nonce reused on {k} under key {h.offset}"
                seen.add(h.key_index)
                if len(seen) > 1:
                    continue  # the key's range is counted once
            by_dir.setdefault(k, []).append((h.offset, h.offset + h.range_len, d))
        for k, ranges in by_dir.items():
            ranges.sort()
            for (a0, a1, _), (b0, b1, _) in itertools.pairwise(ranges):
                assert a1 <= b0, f"pad range reused on {k}: [{a0},{a1}) and [{b0},{b1})"
        return len(distinct)

    def close(self) -> None:
        self.sub.close()
        self.transport.close()


def make_pki(directory: Path) -> dict[str, Path]:
    """A throw-away CA, a server certificate for 127.0.0.1/localhost and two client certificates
    (PEM files, keys PKCS#8), plus a client certificate from an unrelated CA."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    out: dict[str, Path] = {}

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def save(stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        out[stem] = directory / f"{stem}.pem"
        out[stem].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        out[stem + "_key"] = directory / f"{stem}.key"
        out[stem + "_key"].write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        os.chmod(out[stem + "_key"], 0o600)

    def ca(cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(name(cn))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        return cert, key

    def leaf(
        cn: str,
        issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
        usage: x509.ObjectIdentifier,
        server: bool = False,
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        b = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(issuer[0].subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if server:
            b = b.add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
        return b.sign(issuer[1], hashes.SHA256()), key

    root = ca("Red Door test CA")
    out["ca"] = directory / "ca.pem"
    out["ca"].write_bytes(root[0].public_bytes(serialization.Encoding.PEM))
    save("router", *leaf("router", root, ExtendedKeyUsageOID.SERVER_AUTH, server=True))
    save("gateway", *leaf("gateway", root, ExtendedKeyUsageOID.CLIENT_AUTH))
    save("workstation", *leaf("workstation", root, ExtendedKeyUsageOID.CLIENT_AUTH))
    save("stranger", *leaf("stranger", ca("other CA"), ExtendedKeyUsageOID.CLIENT_AUTH))
    return out
