"""The forward-error-correction seam: the one module that imports `raptorq` (RFC 6330).

A block of `block_len` bytes is cut into k source symbols of `symbol_size` bytes; the sender
adds repair symbols, and any k or a little more of all of them rebuild the block. Why RaptorQ
and not zfec, and the measurements behind the default overhead, are in docs/deploy-link.md.

Sending exactly k symbols fails to decode now and then (0.2-0.6 % of blocks in our measurement),
so every block carries at least `MIN_REPAIR` repair symbols on top of the chosen overhead.
The decoder is Rust code fed with bytes off the network: a malformed packet may make it panic,
which PyO3 raises as `BaseException`; that is caught here and the block given up.
"""

from __future__ import annotations

import math

import raptorq

MIN_REPAIR = 2


def repair_count(k: int, overhead: float) -> int:
    """Repair symbols for a block of k source symbols: ceil(k × overhead) + MIN_REPAIR."""
    return math.ceil(k * overhead) + MIN_REPAIR


def encode(block: bytes, symbol_size: int, overhead: float) -> list[bytes]:
    """The block's packets (4-byte payload id + one symbol each): sources first, then repairs."""
    k = -(-len(block) // symbol_size)
    packets = raptorq.Encoder.with_defaults(block, symbol_size).get_encoded_packets(
        repair_count(k, overhead)
    )
    return [bytes(p) for p in packets]


class BlockDecoder:
    """Rebuilds one block from whichever of its packets arrive, in any order."""

    def __init__(self, block_len: int, symbol_size: int) -> None:
        self.block_len = block_len
        self._decoder = raptorq.Decoder.with_defaults(block_len, symbol_size)
        self.failed = False

    def add(self, packet: bytes) -> bytes | None:
        """The block once it can be rebuilt, else None (also after a decoder failure)."""
        if self.failed:
            return None
        try:
            out = self._decoder.decode(packet)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # a Rust panic on a hostile packet (see above)
            self.failed = True
            return None
        if out is None:
            return None
        if len(out) != self.block_len:
            self.failed = True
            return None
        return bytes(out)
