"""The gateway's answer cache: byte-identical frames back, survives a restart, bounded by size
and by age."""

from __future__ import annotations

import os
import time
from pathlib import Path

from custody.link.answer_cache import AnswerCache

PAD = bytes(range(16))


def _qid(i: int) -> bytes:
    return i.to_bytes(16, "big")


def test_frames_come_back_identical_and_survive_a_restart(tmp_path: Path) -> None:
    cache = AnswerCache(tmp_path)
    frames = [os.urandom(300 + i) for i in range(3)]
    cache.register(PAD, b"d" * 32, _qid(1))
    for i, f in enumerate(frames):
        cache.append(PAD, _qid(1), f, end=i == 2)
    cache.append(PAD, _qid(2), b"partial")
    assert cache.lookup(PAD, b"d" * 32) == _qid(1)
    assert cache.frames(PAD, _qid(1)) == (frames, True)
    cache.close()
    # a kill mid-write leaves a torn record at the tail: ignored
    seg = sorted((tmp_path / PAD.hex()).glob("seg-*.log"))[-1]
    with open(seg, "ab") as fh:
        fh.write(b"F" + _qid(3) + (500).to_bytes(4, "big") + b"torn")
    again = AnswerCache(tmp_path)
    assert again.lookup(PAD, b"d" * 32) == _qid(1)
    assert again.frames(PAD, _qid(1)) == (frames, True)
    assert again.frames(PAD, _qid(2)) == ([b"partial"], False)
    assert again.frames(PAD, _qid(3)) == ([], False)
    again.append(PAD, _qid(2), b"rest", end=True)
    assert again.frames(PAD, _qid(2)) == ([b"partial", b"rest"], True)
    again.close()


def test_bounded_by_size(tmp_path: Path) -> None:
    limit = 256 << 10
    cache = AnswerCache(tmp_path, max_bytes=limit)
    for i in range(2000):  # ~2 MiB written
        cache.register(PAD, i.to_bytes(32, "big"), _qid(i))
        cache.append(PAD, _qid(i), bytes([i % 256]) * 1000, end=True)
        assert cache.size(PAD) <= limit + limit // 8 + 2000
    assert cache.frames(PAD, _qid(0)) == ([], False)  # the oldest went
    assert cache.lookup(PAD, (0).to_bytes(32, "big")) is None
    assert cache.frames(PAD, _qid(1999)) == ([bytes([1999 % 256]) * 1000], True)
    files = sum(p.stat().st_size for p in (tmp_path / PAD.hex()).iterdir())
    assert files <= limit + limit // 8 + 2000
    cache.close()


def test_bounded_by_age(tmp_path: Path) -> None:
    cache = AnswerCache(tmp_path, max_age=0.4)
    cache.register(PAD, b"o" * 32, _qid(1))
    cache.append(PAD, _qid(1), b"old", end=True)
    time.sleep(0.6)
    cache.append(PAD, _qid(2), b"new", end=True)  # rotates: the old segment is closed
    time.sleep(0.1)
    cache.prune()
    assert cache.frames(PAD, _qid(1)) == ([], False)
    assert cache.lookup(PAD, b"o" * 32) is None
    assert cache.frames(PAD, _qid(2)) == ([b"new"], True)
    cache.close()
    # ages survive a restart (file times): reopened later, the rest is pruned too
    time.sleep(0.5)
    again = AnswerCache(tmp_path, max_age=0.4)
    assert again.frames(PAD, _qid(2)) == ([], False)
    again.close()
