"""Tests of the command line's own parts (options, question sources)."""
