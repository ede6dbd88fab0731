"""The custody ledger: append-only, hash-chained events in SQLCipher, in an RFC 6962 tree.

database (the SQLCipher seam), entry (the event bytes and hashes), chain (`Ledger`: appends,
approvals requested, checkpoints), checkpoint and proofs (C2SP notes, inclusion and
consistency), verify (the auditor's full check), officers and officer_rules (the two-person
rule), home (the facility home: settings, token, unlock). Imports only the custody foundation.
Format: docs/ledger.md.
"""
