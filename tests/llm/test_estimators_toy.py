"""Estimators at a prefix (Section 4) on ToyModel: within k = 4 standard errors of the exact values.

Toy: TabularAR.random(3, 3, seed=5), α = 3, M = 400 rollouts per candidate, K = V = 3
(so top-K renormalisation is the identity and the exact quantities apply directly).

Standard errors are also bounded from above: over S = 30 seeds (M = 100), the reported SE
(root mean square over seeds) lies within a factor 2 of the spread (sd over seeds) of the
estimate, so an SE inflated to pass "|estimate - truth| ≤ k·SE" is caught.
"""

import numpy as np
import pytest
import torch

import exact
import llm

K_SE = 4.0


@pytest.fixture(scope="module")
def setting():
    toy = exact.TabularAR.random(3, 3, seed=5)
    lm = llm.ToyModel(toy)
    est = llm.estimate_power_conditional(lm, [], 3.0, torch.Generator().manual_seed(0), top_k=3, n_rollouts=400)
    return toy, lm, est


def test_zeta_power_temperature_renyi_within_k_se(setting):
    toy, _, est = setting
    order = est.tokens.numpy()
    log_zeta = toy.log_power_suffix_mass([], 3.0)[order]
    assert np.all(np.abs(est.log_zeta.numpy() - log_zeta) <= K_SE * est.log_zeta_se.numpy())
    power = exact.power_conditional(toy, [], 3.0)[order]
    assert np.all(np.abs(est.power.numpy() - power) <= K_SE * est.power_se.numpy())
    np.testing.assert_allclose(est.temperature.numpy(), exact.temp_conditional(toy, [], 3.0)[order], atol=1e-12)
    renyi = exact.suffix_renyi_entropies(toy, [], 3.0)[order]
    assert np.all(np.abs(est.renyi.numpy() - renyi) <= K_SE * est.renyi_se.numpy())
    assert float(est.power.sum()) == pytest.approx(1.0)


def test_one_step_sis_ess_within_k_se(setting):
    toy, lm, _ = setting
    sis = llm.estimate_one_step_sis(lm, [], 3.0, torch.Generator().manual_seed(1), top_k=3, n_rollouts=400)
    for name in ("base", "temperature"):
        truth = exact.incremental_weight_stats(toy, [], 3.0, name).ess_fraction
        assert abs(sis.ess_fraction[name] - truth) <= K_SE * sis.ess_fraction_se[name] + 1e-9, name
    assert 0 < sis.ess_fraction["estimated"] <= 1
    assert sis.ess_fraction["estimated"] > sis.ess_fraction["base"] - K_SE * sis.ess_fraction_se["base"]


S_SEEDS, M_CAL = 30, 100


def _calibrated(values, ses, what):
    """sd over seeds vs RMS of the reported SEs: ratio within [1/2, 2] wherever the estimate varies."""
    spread = np.std(np.asarray(values, dtype=float), axis=0, ddof=1)
    reported = np.sqrt(np.mean(np.asarray(ses, dtype=float) ** 2, axis=0))
    varies = spread > 1e-12
    assert varies.any(), what
    ratio = reported[varies] / spread[varies]
    assert np.all((ratio > 0.5) & (ratio < 2.0)), (what, ratio)


def test_standard_errors_match_the_spread_over_seeds():
    toy = exact.TabularAR.random(3, 3, seed=5)
    lm = llm.ToyModel(toy)
    runs = [
        llm.estimate_power_conditional(lm, [], 3.0, torch.Generator().manual_seed(s), top_k=3, n_rollouts=M_CAL)
        for s in range(S_SEEDS)
    ]
    for field in ("log_zeta", "power", "renyi"):
        _calibrated([getattr(r, field).numpy() for r in runs], [getattr(r, field + "_se").numpy() for r in runs], field)
    sis = [
        llm.estimate_one_step_sis(lm, [], 3.0, torch.Generator().manual_seed(100 + s), top_k=3, n_rollouts=M_CAL)
        for s in range(S_SEEDS)
    ]
    for name in ("base", "temperature", "estimated"):
        _calibrated([r.ess_fraction[name] for r in sis], [r.ess_fraction_se[name] for r in sis], f"ESS/N {name}")
