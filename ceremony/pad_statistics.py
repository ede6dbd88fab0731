"""Statistics on the finished pad, streamed over chunks, for the ledger and the receipt.

- Monobit: the fraction of one bits, z-score and two-sided p-value (normal approximation,
  as in SP 800-22 2.1).
- Byte chi-square: 255 degrees of freedom against the uniform distribution; the p-value uses
  the Wilson-Hilferty cube-root normal approximation (accurate to about 1e-3 relative at 255
  degrees of freedom, ample for a sanity gate; no scipy).
- Most-common-value min-entropy estimate (SP 800-90B 6.3.1): ``p_u = min(1, p̂ + 2.576 ·
  sqrt(p̂(1-p̂)/(n-1)))``, ``H = -log2(p_u)`` bits per byte.

These can show that a pad is grossly non-uniform (a biased or stuck generator, a wrong file);
they cannot show that it is unpredictable: a counter run through AES passes them all. Every
byte value is counted once with a single histogram, from which all three are derived.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

# Bits set in each byte value, for monobit from the byte histogram.
_POPCOUNT = np.array([bin(v).count("1") for v in range(256)], dtype=np.int64)
# p-values below this are reported as inconsistent with uniform data. At 1e-6 an ideal pad
# is flagged by either test about once in 500,000 ceremonies.
SUSPICION_P_VALUE = 1e-6
CHI_SQUARE_MIN_BYTES = 256 * 5  # every expected bin count at least 5


def normal_upper_tail(z: float) -> float:
    """P[Z > z] for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def chi_square_p_value(statistic: float, dof: int) -> float:
    """P[X >= statistic] for X ~ chi-square(dof), by Wilson-Hilferty."""
    if statistic <= 0:
        return 1.0
    k = float(dof)
    z = ((statistic / k) ** (1.0 / 3.0) - (1.0 - 2.0 / (9.0 * k))) / math.sqrt(2.0 / (9.0 * k))
    return normal_upper_tail(z)


def mcv_min_entropy(max_count: int, n: int) -> float:
    """SP 800-90B 6.3.1 most-common-value estimate, bits per 8-bit sample."""
    if n < 2:
        return 0.0
    p_hat = max_count / n
    p_u = min(1.0, p_hat + 2.576 * math.sqrt(p_hat * (1.0 - p_hat) / (n - 1)))
    return -math.log2(p_u) if p_u > 0 else 8.0


class PadStatistics:
    """Accumulate a byte histogram over chunks; `result()` gives a plain dict."""

    def __init__(self) -> None:
        self._hist = np.zeros(256, dtype=np.int64)
        self.n = 0

    def update(self, chunk: bytes | bytearray | memoryview | npt.NDArray[np.uint8]) -> None:
        x = chunk if isinstance(chunk, np.ndarray) else np.frombuffer(chunk, dtype=np.uint8)
        x = x.reshape(-1)
        if x.size == 0:
            return
        self._hist += byte_histogram(x)
        self.n += x.size

    def histogram(self) -> npt.NDArray[np.int64]:
        return self._hist.copy()

    def result(self) -> dict[str, Any]:
        n = self.n
        hist = self._hist
        out: dict[str, Any] = {"bytes": n}
        if n == 0:
            return out
        bits = 8 * n
        ones = int((hist * _POPCOUNT).sum())
        z = (2 * ones - bits) / math.sqrt(bits)
        monobit_p = math.erfc(abs(z) / math.sqrt(2.0))
        expected = n / 256.0
        chi2 = float(((hist - expected) ** 2).sum() / expected)
        chi2_p = chi_square_p_value(chi2, 255)
        max_count = int(hist.max())
        h_mcv = mcv_min_entropy(max_count, n)
        chi_valid = n >= CHI_SQUARE_MIN_BYTES
        concerns = []
        if monobit_p < SUSPICION_P_VALUE:
            concerns.append("monobit")
        if chi_valid and chi2_p < SUSPICION_P_VALUE:
            concerns.append("byte chi-square")
        out.update(
            {
                "monobit": {
                    "ones_fraction": round(ones / bits, 9),
                    "z": round(z, 4),
                    "p_value": _round_p(monobit_p),
                },
                "byte_chi_square": {
                    "statistic": round(chi2, 3),
                    "degrees_of_freedom": 255,
                    "p_value": _round_p(chi2_p),
                    "p_value_method": "Wilson-Hilferty",
                    "valid": chi_valid,
                },
                "mcv_min_entropy": {
                    "bits_per_byte": round(h_mcv, 4),
                    "most_common_fraction": round(max_count / n, 9),
                    "method": "NIST SP 800-90B 6.3.1, 99% upper bound",
                },
                "suspicion_p_value": SUSPICION_P_VALUE,
                "concerns": concerns,
                "consistent_with_uniform": not concerns,
            }
        )
        return out


def byte_histogram(x: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """Counts of each byte value. Pairs of bytes are counted as uint16 (half the elements
    for bincount, which widens to intp) and folded back; a trailing odd byte is added."""
    hist = np.zeros(256, dtype=np.int64)
    step = 1 << 20  # bounded intp temporaries
    for pos in range(0, x.size, step):
        part = x[pos : pos + step]
        even = part.size & ~1
        if even:
            pairs = np.bincount(part[:even].view(np.uint16), minlength=65536).reshape(256, 256)
            hist += pairs.sum(axis=0) + pairs.sum(axis=1)
        if even != part.size:
            hist[int(part[-1])] += 1
    return hist


def _round_p(p: float) -> float:
    return float(f"{p:.6g}")
