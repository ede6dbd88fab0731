"""Command groups of the `reddoor` CLI, one module each (see app/cli.py)."""
