"""Fingerprints as words, for two officers reading a hash aloud to each other.

Each byte of a digest maps to one of 256 short, common English words, chosen so that no two
rhyme or share a confusable sound (no "kitten"/"mitten", "rocket"/"pocket"). Reading eight
words compares the first 64 bits of the digest; the full hex stays on screen and on paper for
machines. The list is part of the receipt format (docs/receipts.md): never reorder it. It lives
in resources/fingerprint-words.txt (read through importlib.resources, like every data file).
"""

from __future__ import annotations

from resources import data_lines

WORDS: tuple[str, ...] = tuple(
    word for line in data_lines("fingerprint-words.txt") for word in line.split()
)

if len(WORDS) != 256 or len(set(WORDS)) != 256:  # pragma: no cover - guards the table itself
    raise RuntimeError("fingerprint word list must hold 256 distinct words")


def words(digest: bytes, count: int = 8) -> list[str]:
    """The first `count` bytes of `digest` as words (one word per byte)."""
    if count < 1 or count > len(digest):
        raise ValueError(f"count must be between 1 and {len(digest)}")
    return [WORDS[b] for b in digest[:count]]


def phrase(digest: bytes, count: int = 8) -> str:
    """`words()` joined by single spaces, for display and for reading aloud."""
    return " ".join(words(digest, count))
