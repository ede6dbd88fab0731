"""Test vectors for docs/protocol.md, "Diode datagrams".

`python -m tests.custody.link.diode_vectors` prints them; tests/custody/link/test_diode_vectors.py
checks that the doc carries exactly these values. Everything here is fixed: RaptorQ (RFC 6330)
encoding is a function of the block, the symbol size and the encoding symbol id, so the repair
symbols are the same in every run and on every machine.
"""

from __future__ import annotations

from custody.link import keys as link_keys
from custody.link.diode import datagram as dg
from custody.link.diode import fec
from custody.pad.manifest import Direction

SESSION = 0x0123456789ABCDEF
PAD_ID = bytes.fromhex("00112233445566778899aabbccddeeff")  # the frame vectors' pad
PAYLOAD = b"example frame " * 12  # 168 bytes (a real publication carries an OTP frame)
DATAGRAM_SIZE = 256  # the smallest --datagram-size: symbol size 208
OVERHEAD = 0.25  # the default --fec-overhead: ceil(2 x 0.25) + 2 = 3 repair symbols for k = 2
GATEWAY = "gw1"
FLOOR = 4096


def w2f_block() -> bytes:
    """One publication record on a w2f frame key: 227 bytes, two source symbols."""
    return dg.encode_record(
        dg.RECORD_PUBLICATION, link_keys.frame_key(PAD_ID, Direction.W2F), PAYLOAD
    )


def presence_tokens() -> list[str]:
    return sorted(
        [
            link_keys.gateway_alive_key(GATEWAY),
            link_keys.gateway_pad_key(GATEWAY, PAD_ID),
            link_keys.gateway_floor_key(GATEWAY, PAD_ID, FLOOR),
        ]
    )


def f2w_presence_block() -> bytes:
    """One presence record: the facility side's gateway tokens, sorted, joined by newlines."""
    return dg.encode_record(dg.RECORD_PRESENCE, "", "\n".join(presence_tokens()).encode())


def data_datagrams(direction: Direction, block: bytes, first_seq: int) -> list[bytes]:
    """A block as the sender sends it: block number 0, one datagram per FEC packet."""
    symbol_size = dg.symbol_size_for(DATAGRAM_SIZE)
    k = -(-len(block) // symbol_size)
    return [
        dg.encode_data(
            direction,
            SESSION,
            first_seq + i,
            block=0,
            block_len=len(block),
            symbol_size=symbol_size,
            k=k,
            packet=packet,
        )
        for i, packet in enumerate(fec.encode(block, symbol_size, OVERHEAD))
    ]


def heartbeat_w2f(seq: int) -> bytes:
    return dg.encode_heartbeat(
        Direction.W2F, SESSION, seq, blocks_sent=1, dropped=0, interval_ms=1000
    )


_HEADER_FIELDS = [("magic", 4), ("version", 1), ("kind", 1), ("direction", 1), ("flags", 1),
                  ("session", 8), ("seq", 8)]  # fmt: skip
_DATA_FIELDS = [("block", 8), ("block_len", 4), ("symbol_size", 2), ("k", 2), ("sbn", 1),
                ("esi", 3)]  # fmt: skip
_HEARTBEAT_FIELDS = [("blocks_sent", 8), ("dropped", 8), ("interval_ms", 4)]


def fields(data: bytes) -> str:
    """The datagram cut at the documented offsets, one field a line: name, hex, value."""
    body = _DATA_FIELDS if data[5] == dg.KIND_DATA else _HEARTBEAT_FIELDS
    lines, pos = [], 0
    for name, n in _HEADER_FIELDS + body:
        raw = data[pos : pos + n]
        value = raw.decode() if name == "magic" else str(int.from_bytes(raw, "big"))
        lines.append(f"{name:<12} {raw.hex():<16} {value}")
        pos += n
    rest = len(data) - pos - 4
    if rest:
        lines.append(f"{'symbol':<12} ({rest} bytes)")
    lines.append(f"{'crc32':<12} {data[-4:].hex():<16} {int.from_bytes(data[-4:], 'big')}")
    return "\n".join(lines)


def compute() -> dict[str, str]:
    w2f = data_datagrams(Direction.W2F, w2f_block(), 0)
    beat = heartbeat_w2f(len(w2f))
    f2w = data_datagrams(Direction.F2W, f2w_presence_block(), 0)
    return {
        "block-w2f": w2f_block().hex(),
        "data-w2f-source": w2f[0].hex(),
        "data-w2f-source-fields": fields(w2f[0]),
        "data-w2f-repair": w2f[2].hex(),  # ESI 2, the first repair symbol
        "heartbeat-w2f": beat.hex(),
        "heartbeat-w2f-fields": fields(beat),
        "block-f2w-presence": f2w_presence_block().hex(),
        "data-f2w-presence-source": f2w[0].hex(),
    }


if __name__ == "__main__":
    for name, value in compute().items():
        print(f"```diode-vector:{name}\n{value}\n```\n")
