"""The named synthetic models (exact/synthetic.py) against their closed forms and the paper's stated settings.

Appendix B.2.4 of arXiv 2605.04542 states: ``V = 64`` first tokens with ``p_i ∝ (i+1)^-1.05``,
``M = 256`` suffix symbols with ``q_i(z) ∝ z^(-s_i)``, and ``s_i ∈ [0.45, 1.65]`` "varies
deterministically and non-monotonically with the next-token rank, using a sinusoidal component
plus a small trend".  The paper gives no formula for ``s_i``; the period (15) and phase (π/12)
of ours are this project's choice (see ``suffix_exponents``'s docstring), pinned here by its
closed form so that a changed default cannot silently change Figures S.5-S.10.
"""

import math

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

import exact

#: The paper's settings (Appendix B.2.4 of arXiv 2605.04542).
PAPER_VOCAB, PAPER_SUFFIX, PAPER_ZIPF = 64, 256, 1.05
PAPER_S_RANGE = (0.45, 1.65)


def _closed_form_exponents(vocab_size, centre=1.05, amplitude=0.5, trend=0.1, period=15.0, phase=math.pi / 12):
    """``s_i = centre + amplitude·sin(2π i / period + phase) + trend·(2i/(V-1) - 1)``; no trend term when ``V = 1``."""
    ramp = [2.0 * i / (vocab_size - 1) - 1.0 for i in range(vocab_size)] if vocab_size > 1 else [0.0] * vocab_size
    return np.array([centre + amplitude * math.sin(2.0 * math.pi * i / period + phase) + trend * ramp[i] for i in range(vocab_size)])


def _closed_form_setting(vocab_size, suffix_size, zipf_exponent):
    """``p_i = (i+1)^-e / Σ_j (j+1)^-e`` and ``q_i(z) = z^(-s_i) / Σ_w w^(-s_i)``, by plain powers."""
    p = np.array([(i + 1.0) ** -zipf_exponent for i in range(vocab_size)])
    s = _closed_form_exponents(vocab_size)
    q = np.array([[z ** -s[i] for z in range(1, suffix_size + 1)] for i in range(vocab_size)])
    return p / p.sum(), s, q / q.sum(axis=1, keepdims=True)


def test_zipf_suffix_model_matches_its_formula():
    """Appendix B.2.4: π(i) ∝ (i+1)^-1.05 over 64 tokens; q_i(z) ∝ z^-s_i over 256, s_i ∈ [0.45, 1.65], non-monotone."""
    model = exact.zipf_suffix_model()
    assert model.vocab_sizes == (64, 256)
    first = np.exp(model.log_prefix_marginals(1))
    ranks = np.arange(1, 65, dtype=float)
    np.testing.assert_allclose(first, ranks**-1.05 / np.sum(ranks**-1.05), rtol=1e-12)
    s = exact.suffix_exponents(64)
    assert s.min() >= 0.45 - 1e-12 and s.max() <= 1.65 + 1e-12
    assert np.any(np.diff(s) > 0) and np.any(np.diff(s) < 0)
    z = np.arange(1, 257, dtype=float)
    for i in (0, 17, 63):
        np.testing.assert_allclose(model.conditional([i]), z ** -s[i] / np.sum(z ** -s[i]), rtol=1e-12)
    setting = exact.zipf_suffix_setting()
    np.testing.assert_allclose(setting.suffix_probs[5], model.conditional([5]), rtol=1e-12)


def test_defaults_are_the_paper_setting():
    """The defaults are the paper's V = 64, M = 256, exponent 1.05, and s_i within its stated [0.45, 1.65]."""
    s = exact.suffix_exponents()
    assert s.shape == (PAPER_VOCAB,)
    assert PAPER_S_RANGE[0] <= s.min() and s.max() <= PAPER_S_RANGE[1]
    # the project's own choices within the paper's description: centre 1.05, amplitude 0.5, trend 0.1,
    # period 15, phase π/12 (s_0 = 1.05 + 0.5 sin(π/12) - 0.1, s_63 = 1.05 + 0.5 sin(2π·63/15 + π/12) + 0.1)
    np.testing.assert_allclose(s, _closed_form_exponents(PAPER_VOCAB), rtol=0, atol=1e-14)
    assert math.isclose(s[0], 0.95 + 0.5 * math.sin(math.pi / 12), abs_tol=1e-15)
    setting = exact.zipf_suffix_setting()
    p, s_ref, q = _closed_form_setting(PAPER_VOCAB, PAPER_SUFFIX, PAPER_ZIPF)
    assert setting.first_token_probs.shape == (PAPER_VOCAB,) and setting.suffix_probs.shape == (PAPER_VOCAB, PAPER_SUFFIX)
    np.testing.assert_allclose(setting.first_token_probs, p, rtol=1e-12, atol=0)
    np.testing.assert_allclose(setting.suffix_exponents, s_ref, rtol=0, atol=1e-14)
    np.testing.assert_allclose(setting.suffix_probs, q, rtol=1e-12, atol=0)
    np.testing.assert_allclose(exact.zipf_suffix_model().joint(), p[:, None] * q, rtol=1e-12, atol=0)


@given(
    st.integers(0, 40),
    st.floats(-2.0, 2.0),
    st.floats(0.05, 2.0),
    st.floats(0.05, 1.0),
    st.floats(1.0, 40.0),
    st.floats(-math.pi, math.pi),
)
@example(1, 1.05, 0.5, 0.1, 15.0, math.pi / 12)  # one token: the trend term is 0 (its ramp would divide by V - 1 = 0)
@example(2, 1.05, 0.5, 0.1, 15.0, math.pi / 12)  # two tokens: the ramp is (-1, +1)
def test_suffix_exponents_follow_their_formula(vocab_size, centre, amplitude, trend, period, phase):
    s = exact.suffix_exponents(vocab_size, centre, amplitude, trend, period, phase)
    assert s.shape == (vocab_size,) and s.dtype == np.float64
    np.testing.assert_allclose(s, _closed_form_exponents(vocab_size, centre, amplitude, trend, period, phase), rtol=0, atol=1e-12)


@given(st.integers(1, 9), st.integers(1, 9), st.floats(0.1, 3.0))
@example(1, 1, 1.05)
def test_setting_and_model_are_the_zipf_power_law_product(vocab_size, suffix_size, zipf_exponent):
    """``zipf_suffix_setting`` returns ``(p, s, q)`` of the closed form, and the model's joint is ``p_i q_i(z)``."""
    setting = exact.zipf_suffix_setting(vocab_size, suffix_size, zipf_exponent)
    p, s, q = _closed_form_setting(vocab_size, suffix_size, zipf_exponent)
    assert isinstance(setting, exact.ZipfSuffixSetting)
    np.testing.assert_allclose(setting.first_token_probs, p, rtol=1e-12, atol=0)
    np.testing.assert_allclose(setting.suffix_exponents, s, rtol=0, atol=1e-14)
    np.testing.assert_allclose(setting.suffix_probs, q, rtol=1e-12, atol=0)
    model = exact.zipf_suffix_model(vocab_size, suffix_size, zipf_exponent)
    assert model.vocab_sizes == (vocab_size, suffix_size)
    np.testing.assert_allclose(model.joint(), p[:, None] * q, rtol=1e-12, atol=0)
