"""A sender for the crash tests: seals frames as fast as it can and writes each to stdout.

Each frame is written as a 4-byte big-endian length and the frame bytes, then flushed: whatever
reached the pipe is "on the wire". The test kills this process with SIGKILL at random moments.
"""

from __future__ import annotations

import random
import struct
import sys

from custody.errors import PadExhaustedError
from custody.pad import frame
from custody.pad.store import open_pad_dir


def main() -> int:
    pad_dir, block = sys.argv[1], int(sys.argv[2])
    out = sys.stdout.buffer
    copy = open_pad_dir(pad_dir, block=block)
    rng = random.Random()
    try:
        while True:
            data = frame.seal(copy, frame.Kind.QUERY, bytes(rng.randrange(0, 2500)))
            out.write(struct.pack(">I", len(data)) + data)
            out.flush()
    except PadExhaustedError:
        copy.close()
        return 4


if __name__ == "__main__":
    sys.exit(main())
