"""Tests of the pad layer: copies, journals, frames, crash safety."""
