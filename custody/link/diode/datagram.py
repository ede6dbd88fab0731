"""The diode datagram: an outer header around FEC packets, and the records inside a block.

Every datagram (big-endian, docs/protocol.md "Diode datagrams" has the vectors):

    magic "RDDG" | version 1 | kind | direction | flags 0 | session u64 | seq u64 | body | crc32

`session` is a random number a sender picks when it starts; `seq` counts the sender's datagrams
in that session from 0, heartbeats included, so a receiver counts what it lost without a back
channel. The CRC-32 (zlib) over everything before it catches corruption; it is not
authentication. A datagram is not trusted for anything: the frames inside are checked by the
link as before, and every key is checked against the link's own key forms before publishing.

    kind 1 data:      block u64 | block_len u32 | symbol_size u16 | k u16 | packet (4 + symbol_size)
    kind 2 heartbeat: blocks_sent u64 | dropped u64 | interval_ms u32

A data block is a run of records, each `type u8 | key_len u16 | key | len u32 | payload`:
type 1 is a publication (a frame on its key), type 2 the sender side's liveliness snapshot
(key empty, payload the token keys joined by newlines).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from custody.errors import UsageError
from custody.pad.manifest import Direction

MAGIC = b"RDDG"
VERSION = 1
KIND_DATA = 1
KIND_HEARTBEAT = 2
DIRECTION_CODE = {Direction.W2F: 1, Direction.F2W: 2}

HEADER = struct.Struct(">4sBBBBQQ")  # 24 bytes
DATA = struct.Struct(">QIHH")  # 16 bytes
HEARTBEAT = struct.Struct(">QQI")  # 20 bytes
CRC = struct.Struct(">I")
PACKET_ID_LEN = 4  # RaptorQ's payload id (source block number, encoding symbol id)
DATA_OVERHEAD = HEADER.size + DATA.size + PACKET_ID_LEN + CRC.size  # 48

RECORD = struct.Struct(">BH")
RECORD_LEN = struct.Struct(">I")
RECORD_PUBLICATION = 1
RECORD_PRESENCE = 2

MIN_DATAGRAM = 256
MAX_DATAGRAM = 65507  # the largest UDP payload over IPv4
MAX_BLOCK = 1 << 20  # one block's records; a frame is at most 64 KiB + header
MAX_PRESENCE_KEYS = 4096


class DatagramError(ValueError):
    """Not a datagram of this bridge (junk, corrupted, another direction or version)."""


@dataclass(frozen=True)
class Datagram:
    kind: int
    direction: Direction
    session: int
    seq: int
    # data
    block: int = 0
    block_len: int = 0
    symbol_size: int = 0
    k: int = 0
    packet: bytes = b""
    # heartbeat
    blocks_sent: int = 0
    dropped: int = 0
    interval_ms: int = 0

    @property
    def esi(self) -> int:
        """The packet's encoding symbol id: below k a source symbol, from k on a repair one."""
        return int.from_bytes(self.packet[1:4], "big")


def symbol_size_for(datagram_size: int) -> int:
    """The largest FEC symbol (a multiple of 8, as RaptorQ's alignment wants) that fits."""
    if not MIN_DATAGRAM <= datagram_size <= MAX_DATAGRAM:
        raise UsageError(
            f"--datagram-size must be {MIN_DATAGRAM}..{MAX_DATAGRAM} bytes (the diode's MTU "
            "less 28 bytes of IPv4 and UDP headers)"
        )
    return (datagram_size - DATA_OVERHEAD) // 8 * 8


def _finish(head: bytes) -> bytes:
    return head + CRC.pack(zlib.crc32(head))


def _header(kind: int, direction: Direction, session: int, seq: int) -> bytes:
    return HEADER.pack(MAGIC, VERSION, kind, DIRECTION_CODE[direction], 0, session, seq)


def encode_data(
    direction: Direction,
    session: int,
    seq: int,
    *,
    block: int,
    block_len: int,
    symbol_size: int,
    k: int,
    packet: bytes,
) -> bytes:
    head = _header(KIND_DATA, direction, session, seq) + DATA.pack(block, block_len, symbol_size, k)
    return _finish(head + packet)


def encode_heartbeat(
    direction: Direction,
    session: int,
    seq: int,
    *,
    blocks_sent: int,
    dropped: int,
    interval_ms: int,
) -> bytes:
    head = _header(KIND_HEARTBEAT, direction, session, seq)
    return _finish(head + HEARTBEAT.pack(blocks_sent, dropped, interval_ms))


def decode(data: bytes, direction: Direction) -> Datagram:
    """Parse and check one datagram meant for `direction`; anything else is `DatagramError`."""
    if len(data) < HEADER.size + CRC.size:
        raise DatagramError("short")
    if zlib.crc32(memoryview(data)[: -CRC.size]) != CRC.unpack_from(data, len(data) - CRC.size)[0]:
        raise DatagramError("crc")
    magic, version, kind, dcode, flags, session, seq = HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION or flags != 0:
        raise DatagramError("header")
    if dcode != DIRECTION_CODE[direction]:
        raise DatagramError("direction")
    body = memoryview(data)[HEADER.size : -CRC.size]
    if kind == KIND_HEARTBEAT:
        if len(body) != HEARTBEAT.size:
            raise DatagramError("length")
        blocks_sent, dropped, interval_ms = HEARTBEAT.unpack_from(body)
        return Datagram(
            kind, direction, session, seq, blocks_sent=blocks_sent, dropped=dropped,
            interval_ms=interval_ms,
        )  # fmt: skip
    if kind != KIND_DATA or len(body) < DATA.size + PACKET_ID_LEN:
        raise DatagramError("kind")
    block, block_len, symbol_size, k = DATA.unpack_from(body)
    packet = bytes(body[DATA.size :])
    if (
        not 0 < block_len <= MAX_BLOCK
        or symbol_size == 0
        or symbol_size % 8
        or k != -(-block_len // symbol_size)
        or len(packet) != PACKET_ID_LEN + symbol_size
        or packet[0] != 0  # one source block per FEC block
    ):
        raise DatagramError("geometry")
    return Datagram(
        kind, direction, session, seq, block=block, block_len=block_len,
        symbol_size=symbol_size, k=k, packet=packet,
    )  # fmt: skip


def encode_record(rtype: int, key: str, payload: bytes) -> bytes:
    k = key.encode()
    return RECORD.pack(rtype, len(k)) + k + RECORD_LEN.pack(len(payload)) + payload


def record_len(key: str, payload: bytes) -> int:
    return RECORD.size + len(key.encode()) + RECORD_LEN.size + len(payload)


def records(block: bytes) -> Iterator[tuple[int, str, bytes]]:
    """The records of a decoded block; a malformed block raises `DatagramError` part-way (the
    records before the fault were well formed, and are yielded)."""
    pos, end = 0, len(block)
    while pos < end:
        if end - pos < RECORD.size:
            raise DatagramError("record")
        rtype, klen = RECORD.unpack_from(block, pos)
        pos += RECORD.size
        if rtype not in (RECORD_PUBLICATION, RECORD_PRESENCE) or end - pos < klen + RECORD_LEN.size:
            raise DatagramError("record")
        try:
            key = block[pos : pos + klen].decode()
        except UnicodeDecodeError:
            raise DatagramError("record") from None
        pos += klen
        (n,) = RECORD_LEN.unpack_from(block, pos)
        pos += RECORD_LEN.size
        if end - pos < n:
            raise DatagramError("record")
        yield rtype, key, block[pos : pos + n]
        pos += n
