"""Red Door custody core, Qt-free by design (the gateway and the CLI run on servers without
PySide6). One sub-package per subsystem, each importing only the ones below it
(docs/architecture.md; tests/test_layers.py enforces it):

    documents/   receipts, reports, certificates (the reportlab seam)
    lifecycle/   a pad's custody derived from the ledger; the acts; reconciliation
    link/        the OTP link over Zenoh: workstation client, facility gateway, chronicle
    pad/  ledger/    pads, journals, frames, the HSM vault | the SQLCipher ledger, officers, home

and below them all, the foundation modules here: errors, canonical JSON, durable and bounded
files, Merkle trees, fingerprint words, rate-limited logs, and the PKCS#11 seam (hsm.py).
"""

__version__ = "0.1.0"
