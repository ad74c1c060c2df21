"""Estimators at a prefix (Section 4) on ToyModel: within k = 4 standard errors of the exact values.

Toy: TabularAR.random(3, 3, seed=5), α = 3, M = 400 rollouts per candidate, K = V = 3
(so top-K renormalisation is the identity and the exact quantities apply directly).
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
