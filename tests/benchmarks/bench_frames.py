"""Frame throughput (durable journal on) against a bare XOR + Poly1305 loop, and pad cost.

A third loop, the "layout floor", does only what the wire format forces (header, inner header,
XOR, Poly1305 over header and body, zeroizing) inlined in memory: the least a CPython frame
path can cost, to judge the ratio target against.

Both loops use the same XOR and Poly1305 primitives, so the ratio is what the frame path adds:
headers and buckets, reserve-before-use journal writes (write, fsync, rename, directory fsync),
the host witness, pread/pwrite of the pad file, replay checks and zeroizing.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.poly1305 import Poly1305

from custody.pad import frame
from custody.pad.frame import Kind, _xor
from custody.pad.practice import make_practice_pad
from custody.pad.store import open_pad_dir

CORPUS = [
    "Why does this Rust function fail to borrow `self.buf` mutably inside the loop?\n"
    "fn fill(&mut self) { for b in self.buf.iter() { self.push(*b); } }",
    "Refactor this TypeScript publisher so it retries with exponential backoff:\n"
    "export async function publish(topic: string, data: Uint8Array) {\n"
    "  const s = await Session.open(cfg);\n  await s.put(topic, data);\n}\n",
    "What does `volatile` guarantee in C on ARM Cortex-M and what does it not?",
    "Explain this SQL plan: Seq Scan on events (cost=0.00..1834.00 rows=100000) "
    "Filter: (type = 'custody.transfer'::text)",
    "Write a Python function that parses ISO 8601 durations like P3DT4H5M without regex.",
    "Review this C for buffer overflows:\nvoid copy(char *dst, const char *src, size_t n) {\n"
    "  for (size_t i = 0; i <= n; i++) dst[i] = src[i];\n}\n",
    "How do I make this function UNCLASSIFIED without losing functionality?\n"
    + "function encrypt(data) { return aes256cbc(data, KEY, IV_1024); }\n" * 6,
    "Summarise the differences between SP 800-90B's RCT and APT health tests.",
]


def _bare(message: bytes, count: int) -> float:
    pad = secrets.token_bytes(32 + len(message)) * 1
    t0 = time.perf_counter()
    for _ in range(count):
        body = _xor(message, pad[32:])
        tag = Poly1305.generate_tag(pad[:32], body)
        Poly1305.verify_tag(pad[:32], body, tag)
        _xor(body, pad[32:])
    return time.perf_counter() - t0


def _layout_floor(message: bytes, count: int) -> float:
    """The frame layout alone, inlined, in tmpfs-like memory: no journal, no replay window, no
    checks, no function structure. What any CPython frame path costs at the least; a lower
    bound for `_full`, measured so the ratio target can be judged against it."""
    size = frame.bucket_for(frame.INNER_LEN + len(message))
    range_len = frame.KEY_LEN + size
    buf = bytearray(secrets.token_bytes(range_len * count))
    view = memoryview(buf)
    zeros = bytes(range_len)
    pid = secrets.token_bytes(16)
    n = frame.INNER_LEN + len(message)
    t0 = time.perf_counter()
    for i in range(count):
        off = i * range_len
        out = bytearray(frame.HEADER.pack(b"RD", 1, 1, 0, 0, 0, pid, off, range_len, size))
        inner = bytearray(frame.INNER.pack(1, 2, 0, bytes(16), len(message)))
        inner += message
        p = view[off : off + range_len]
        out += _xor(inner, p[32 : 32 + n])
        out += p[32 + n :]
        out += Poly1305.generate_tag(p[:32], out)
        data = bytes(out)
        w = memoryview(data)
        Poly1305.verify_tag(p[:32], w[: frame.HEADER_LEN + size], data[frame.HEADER_LEN + size :])
        head = _xor(w[40:66], p[32:58])
        frame.INNER.unpack(head)
        _xor(w[66 : 40 + n], p[58 : 32 + n])
        p.release()
        view[off : off + range_len] = zeros
    return time.perf_counter() - t0


def _full(tmp: Path, message: bytes, count: int) -> float:
    need = count * (frame.KEY_LEN + frame.bucket_for(frame.INNER_LEN + len(message))) * 2
    size = max(1 << 20, need + (4 << 20))
    out = tmp / f"pad-{len(message)}"
    make_practice_pad(out, size, split="1:1")
    ws = open_pad_dir(out / "workstation")
    fac = open_pad_dir(out / "facility")
    t0 = time.perf_counter()
    for _ in range(count):
        data = frame.seal(ws, Kind.QUERY, message)
        frame.open_frame(fac, data)
    elapsed = time.perf_counter() - t0
    ws.close()
    fac.close()
    return elapsed


def pad_cost() -> dict[str, object]:
    rows = []
    for compress in (False, True):
        total_plain = total_pad = 0
        for q in CORPUS:
            payload = q.encode()
            packed = frame.zlib.compress(payload, 9) if compress else payload
            if compress and len(packed) >= len(payload):
                packed = payload
            used = frame.KEY_LEN + frame.bucket_for(frame.INNER_LEN + len(packed))
            total_plain += len(payload)
            total_pad += used
        rows.append(
            {
                "compression": compress,
                "messages": len(CORPUS),
                "plaintext_bytes": total_plain,
                "pad_bytes": total_pad,
                "overhead_bytes_per_frame": round((total_pad - total_plain) / len(CORPUS), 1),
                "overhead_percent": round(100 * (total_pad - total_plain) / total_plain, 1),
            }
        )
    return {"corpus": rows}


def main() -> dict[str, object]:
    results: dict[str, object] = {}
    base = Path(os.environ.get("REDDOOR_BENCH_DIR", tempfile.gettempdir()))
    with tempfile.TemporaryDirectory(dir=base, prefix="bench-frames-") as tmp:
        os.environ["REDDOOR_STATE_DIR"] = str(Path(tmp) / "state")
        for label, size, count in (("1KiB", 1024, 20000), ("64KiB", 65536 - 26, 1500)):
            message = secrets.token_bytes(size)
            bare = min(_bare(message, count) for _ in range(3))
            full = min(_full(Path(tmp) / f"r{i}", message, count) for i in range(3))
            floor = min(_layout_floor(message, count) for _ in range(3))
            results[label] = {
                "messages": count,
                "bare_frames_per_s": round(count / bare),
                "bare_MB_per_s": round(count * size / bare / 1e6, 1),
                "full_frames_per_s": round(count / full),
                "full_MB_per_s": round(count * size / full / 1e6, 1),
                "ratio_full_to_bare": round(bare / full, 3),
                "layout_floor_frames_per_s": round(count / floor),
                "ratio_layout_floor_to_bare": round(bare / floor, 3),
                "target": ">= 0.5",
            }
    results["pad_cost"] = pad_cost()
    return results


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
