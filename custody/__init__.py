"""Red Door custody core: pads and offsets, OTP frames, the ledger, the HSM vault, the link.

Qt-free by design: the gateway and the CLI run on servers that have no PySide6.
"""

__version__ = "0.1.0"
