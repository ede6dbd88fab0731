"""A pad's custody, derived from the ledger alone, and the acts that move it.

states (states, events, transitions, the `Deriver` that replays the ledger), acts (hand-overs,
activation, suspension, retirement, resync), destruction (crypto-erase, overwrite, physical),
serving (what a running gateway may serve), marks (the ledger as the authority on a facility
copy's marks), reconcile and consumption (what the two sides used). Imports link, pad, ledger
and the foundation. docs/custody-lifecycle.md.
"""
