"""NIST SP 800-90B §4.4 health tests on raw 8-bit samples, vectorised with numpy.

Two tests, run on each raw source *before* mixing (a stuck source XORed with a good one passes
any test after mixing):

- Repetition count test (RCT, §4.4.1): fails when one value repeats C or more times in a row.
  Cutoff ``C = 1 + ceil(-log2(alpha) / H)``. An ideal source with min-entropy H per sample
  repeats a value C-1 more times with probability ``2^(-H*(C-1)) <= alpha``.
- Adaptive proportion test (APT, §4.4.2): in each non-overlapping window of W = 1024 samples,
  fails when the window's first value occurs C or more times in the window (the first
  included). Cutoff ``C = 1 + CRITBINOM(W, 2^-H, 1 - alpha)``, the form printed in SP 800-90B
  (2018), where CRITBINOM(n, p, q) is the smallest k with ``P[Binomial(n, p) <= k] >= q``. It is
  computed here exactly with rational arithmetic (no scipy). The errata form
  ``2 + CRITBINOM(W - 1, ...)`` bounds the false-alarm rate by alpha exactly and is one higher at
  H = 8 (27 instead of 26); `apt_false_alarm_probability` gives the exact per-window rate of
  whichever cutoff is in use (2^-39.54 for C = 26 at H = 8).

alpha is per sample (RCT) and per window (APT), not per ceremony, so at GiB scale it must be
small: at alpha = 2^-40 and H = 8 (C_RCT = 6, C_APT = 26) ideal data raises about 0.001 RCT and
0.000001 APT false alarms per GiB, and the ceremony aborts on the first alarm.

Start-up tests (§4.3) run both tests on the first 1,024 samples of a source; the caller discards
those samples. Continuous tests then run over everything read, with the state (current run,
partial window) carried across read boundaries, so the result does not depend on how reads
are split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from ceremony.errors import HealthTestFailure

DEFAULT_ALPHA = 2.0**-40
DEFAULT_MIN_ENTROPY = 8.0
APT_WINDOW = 1024
STARTUP_SAMPLES = 1024

RCT_NAME = "repetition count test"
APT_NAME = "adaptive proportion test"

Samples = npt.NDArray[np.uint8]


def rct_cutoff(alpha: float = DEFAULT_ALPHA, min_entropy: float = DEFAULT_MIN_ENTROPY) -> int:
    """SP 800-90B §4.4.1: ``C = 1 + ceil(-log2(alpha) / H)``."""
    _check_parameters(alpha, min_entropy)
    # -log2(alpha) is exact for powers of two; round away float noise before ceil.
    return 1 + math.ceil(round(-math.log2(alpha) / min_entropy, 9))


def critbinom(n: int, p: Fraction, q: Fraction) -> int:
    """Smallest k with ``P[Binomial(n, p) <= k] >= q``, computed exactly."""
    cdf = Fraction(0)
    for k in range(n + 1):
        cdf += math.comb(n, k) * p**k * (1 - p) ** (n - k)
        if cdf >= q:
            return k
    return n


def apt_cutoff(
    alpha: float = DEFAULT_ALPHA,
    min_entropy: float = DEFAULT_MIN_ENTROPY,
    window: int = APT_WINDOW,
) -> int:
    """SP 800-90B §4.4.2: ``C = 1 + CRITBINOM(W, 2^-H, 1 - alpha)``."""
    _check_parameters(alpha, min_entropy)
    p = Fraction(2.0**-min_entropy)
    return 1 + critbinom(window, p, 1 - Fraction(alpha))


def apt_false_alarm_probability(
    cutoff: int, min_entropy: float = DEFAULT_MIN_ENTROPY, window: int = APT_WINDOW
) -> float:
    """Exact probability that one window of ideal data fails the APT with this cutoff.

    The first sample fixes the value; the other W-1 samples match it with probability 2^-H
    each, so the test fails when ``Binomial(W-1, 2^-H) >= cutoff - 1``.
    """
    p = Fraction(2.0**-min_entropy)
    n = window - 1
    below = sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(cutoff - 1))
    return float(1 - below)


def rct_false_alarm_probability(cutoff: int, min_entropy: float = DEFAULT_MIN_ENTROPY) -> float:
    """Probability that an ideal sample starts a run that reaches the cutoff (per sample)."""
    return float(2.0 ** (-min_entropy * (cutoff - 1)))


def _check_parameters(alpha: float, min_entropy: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be in (0, 1)")
    if not 0.0 < min_entropy <= 8.0:
        raise ValueError("min-entropy per 8-bit sample must be in (0, 8]")


@dataclass(frozen=True)
class HealthTestParameters:
    alpha: float = DEFAULT_ALPHA
    min_entropy: float = DEFAULT_MIN_ENTROPY
    window: int = APT_WINDOW

    @property
    def rct_cutoff(self) -> int:
        return rct_cutoff(self.alpha, self.min_entropy)

    @property
    def apt_cutoff(self) -> int:
        return apt_cutoff(self.alpha, self.min_entropy, self.window)


class HealthMonitor:
    """Runs the RCT and the APT over one source's raw samples, across any number of calls.

    The first `STARTUP_SAMPLES` samples form the start-up test; a failure there is reported as
    a start-up test. Everything after is continuous testing. Any failure raises
    `HealthTestFailure` and the monitor stays failed: later calls raise again.
    """

    def __init__(self, source_name: str, parameters: HealthTestParameters | None = None) -> None:
        self.source_name = source_name
        self.parameters = parameters or HealthTestParameters()
        self.rct_cutoff = self.parameters.rct_cutoff
        self.apt_cutoff = self.parameters.apt_cutoff
        self.window = self.parameters.window
        self.samples_tested = 0
        self.failure: HealthTestFailure | None = None
        # RCT state: the last sample and the length of the run it ends.
        self._last: int | None = None
        self._run = 0
        self._max_run = 0
        # APT state: the current window's first value, how many of its samples were seen and
        # how often the first value occurred among them.
        self._apt_first = 0
        self._apt_seen = 0
        self._apt_count = 0
        self._max_apt_count = 0
        self._windows = 0

    @property
    def startup_complete(self) -> bool:
        return self.samples_tested >= STARTUP_SAMPLES

    @property
    def longest_run(self) -> int:
        """The RCT's highest value so far: the longest run of one value (>= cutoff on alarm)."""
        return self._max_run

    @property
    def highest_apt_count(self) -> int:
        """The APT's highest value so far: the most times a window held its first value."""
        return self._max_apt_count

    def check(self, data: bytes | bytearray | memoryview | Samples) -> None:
        """Test the next raw samples of this source. Raises `HealthTestFailure`."""
        if self.failure is not None:
            raise self.failure
        samples = _as_samples(data)
        if samples.size == 0:
            return
        try:
            # The start-up boundary only changes the failure's name, so split there.
            if not self.startup_complete:
                head = STARTUP_SAMPLES - self.samples_tested
                self._check(samples[:head])
                samples = samples[head:]
                if samples.size == 0:
                    return
            self._check(samples)
        except HealthTestFailure as exc:
            self.failure = exc
            raise

    def summary(self) -> dict[str, Any]:
        """Plain values for the ledger and the receipt."""
        return {
            "source": self.source_name,
            "standard": "NIST SP 800-90B 4.4",
            "alpha": self.parameters.alpha,
            "assumed_min_entropy_bits_per_sample": self.parameters.min_entropy,
            "rct_cutoff": self.rct_cutoff,
            "apt_cutoff": self.apt_cutoff,
            "apt_window": self.window,
            "startup_samples": STARTUP_SAMPLES,
            "startup_passed": self.startup_complete and self.failure is None,
            "samples_tested": self.samples_tested,
            "apt_windows_completed": self._windows,
            "longest_run": self.longest_run,
            "highest_apt_count": self.highest_apt_count,
            "failed": None if self.failure is None else self.failure.test,
        }

    # -- internals -------------------------------------------------------------------------

    def _test_name(self, base: str, first_index: int) -> str:
        return f"start-up {base}" if first_index < STARTUP_SAMPLES else f"continuous {base}"

    def _check(self, x: Samples) -> None:
        failures = [f for f in (self._rct(x), self._apt(x)) if f is not None]
        if failures:
            # Report whichever test alarmed first, so the result does not depend on how the
            # samples were split into calls.
            at, base_name, detail = min(failures, key=lambda f: f[0])
            raise HealthTestFailure(self.source_name, self._test_name(base_name, at), at, detail)
        self.samples_tested += x.size

    def _rct(self, x: Samples) -> _Alarm | None:
        n = x.size
        base = self.samples_tested
        cutoff = self.rct_cutoff
        # Only positions equal to their predecessor extend a run; for healthy data that is
        # about 1 in 256, so work on those indices only.
        eq = np.flatnonzero(x[1:] == x[:-1]) + 1
        continues = self._last is not None and int(x[0]) == self._last
        if continues:
            eq = np.concatenate((np.zeros(1, dtype=eq.dtype), eq))
        run_at_end = 1
        if eq.size:
            # Group consecutive indices: a group of k indices is a run of k+1 samples, or of
            # k + the carried run for a group at index 0 that continues the previous call.
            breaks = np.flatnonzero(np.diff(eq) != 1) + 1
            starts = np.concatenate((np.zeros(1, dtype=breaks.dtype), breaks))
            ends = np.concatenate((breaks, np.array([eq.size], dtype=breaks.dtype)))
            lengths = (ends - starts + 1).astype(np.int64)
            if continues:
                lengths[0] = ends[0] - starts[0] + self._run
            self._max_run = max(self._max_run, int(lengths.max()))
            bad = np.flatnonzero(lengths >= cutoff)
            if bad.size:
                g = int(bad[0])
                # The sample at which the run reaches the cutoff.
                run_start = int(eq[starts[g]]) - 1
                carried = self._run - 1 if (g == 0 and continues) else 0
                at = base + run_start + (cutoff - 1) - carried
                return at, RCT_NAME, f"one value repeated {cutoff} times in a row"
            if int(eq[-1]) == n - 1:
                run_at_end = int(lengths[-1])
        self._max_run = max(self._max_run, run_at_end)
        self._run = run_at_end
        self._last = int(x[-1])
        return None

    def _apt(self, x: Samples) -> _Alarm | None:
        w = self.window
        cutoff = self.apt_cutoff
        pos = 0
        base = self.samples_tested
        if self._apt_seen:
            # Finish the window carried over from the previous call.
            take = min(w - self._apt_seen, x.size)
            head = x[:take]
            before = self._apt_count
            count = before + int(np.count_nonzero(head == self._apt_first))
            self._apt_seen += take
            self._apt_count = count
            self._max_apt_count = max(self._max_apt_count, count)
            if count >= cutoff:
                return self._apt_alarm(base + _nth_match(head, self._apt_first, cutoff - before))
            if self._apt_seen == w:
                self._apt_seen = 0
                self._windows += 1
            pos = take
        full = (x.size - pos) // w
        if full:
            block = x[pos : pos + full * w].reshape(full, w)
            counts = _window_first_counts(block)
            self._windows += full
            self._max_apt_count = max(self._max_apt_count, int(counts.max()))
            bad = np.flatnonzero(counts >= cutoff)
            if bad.size:
                g = int(bad[0])
                row = block[g]
                return self._apt_alarm(base + pos + g * w + _nth_match(row, int(row[0]), cutoff))
            pos += full * w
        if pos < x.size:
            rest = x[pos:]
            self._apt_first = int(rest[0])
            self._apt_count = int(np.count_nonzero(rest == rest[0]))
            self._apt_seen = rest.size
            self._max_apt_count = max(self._max_apt_count, self._apt_count)
            if self._apt_count >= cutoff:
                return self._apt_alarm(base + pos + _nth_match(rest, self._apt_first, cutoff))
        return None

    def _apt_alarm(self, at: int) -> _Alarm:
        return (
            at,
            APT_NAME,
            f"a window of {self.window} samples held its first value {self.apt_cutoff} times",
        )


_Alarm = tuple[int, str, str]


def _nth_match(segment: Samples, value: int, k: int) -> int:
    """Offset in `segment` of the k-th (1-based) sample equal to `value`."""
    return int(np.flatnonzero(segment == value)[k - 1])


def _window_first_counts(block: Samples) -> npt.NDArray[np.int64]:
    """For each row, how many of its samples equal its first sample (the first included)."""
    matches = block == block[:, :1]
    width = block.shape[1]
    if width % 8 == 0 and width // 8 <= 255 and matches.flags.c_contiguous:
        # Sum the 0/1 bytes eight at a time as uint64 lanes: no lane can exceed
        # width/8 <= 255, so no carry crosses lanes; then add the eight lanes up.
        lanes = matches.view(np.uint64).sum(axis=1, dtype=np.uint64)
        counts: npt.NDArray[np.int64] = (
            lanes.view(np.uint8).reshape(-1, 8).sum(axis=1, dtype=np.int64)
        )
        return counts
    plain: npt.NDArray[np.int64] = matches.sum(axis=1, dtype=np.int64)
    return plain


def _as_samples(data: bytes | bytearray | memoryview | Samples) -> Samples:
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise TypeError("health tests take 8-bit samples")
        return data.reshape(-1)
    return np.frombuffer(data, dtype=np.uint8)
