"""The pad layer: one side's copy of a one-time pad and what keeps its bytes used once.

ids (pad ids), manifest (regions, chunks, Merkle root), journal (reserve-before-use state),
pad_copy (`PadCopy`: reservation, receive windows, zeroizing, rollback guards), store (a pad
directory: layout, lock, opening a copy), medium (the bytes under a copy, reservation blocks),
witness (the host's record of each journal), frame (the OTP frame and its one-time Poly1305
MAC), usage and status (what is left), practice (practice pads), vault (the facility copy:
chunks encrypted on the HSM). Imports only the custody foundation.
Formats: docs/pad-format.md, docs/protocol.md.
"""
