"""Tests of the ledger: chain, proofs, verify, officers, the home."""
