"""Tests of the custody lifecycle and the facility copy's marks."""
