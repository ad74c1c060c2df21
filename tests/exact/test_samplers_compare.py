"""``exact.samplers.distances_to_power``: TV, ``KL(P ‖ π_α)`` and ``E_P[log π]`` against their formulas.

References are computed entry by entry with ``math`` from ``π_α(y) = π(y)^α / Σ_y' π(y')^α``
(Eq. 4); the formulas themselves are pinned in ``test_samplers_smc.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import exact
from exact.samplers import distances_to_power


def brute_distances(joint, alpha, P):
    """``(TV, KL(P ‖ π_α), E_P[log π])`` from the definitions, in plain Python floats."""
    cells = list(np.ndindex(joint.shape))
    Z = math.fsum(float(joint[y]) ** alpha for y in cells)
    target = {y: float(joint[y]) ** alpha / Z for y in cells}
    tv = 0.5 * math.fsum(abs(float(P[y]) - target[y]) for y in cells)
    mass = [y for y in cells if P[y] > 0]
    if any(target[y] == 0.0 for y in mass):
        kl = math.inf
    else:
        kl = math.fsum(float(P[y]) * (math.log(float(P[y])) - math.log(target[y])) for y in mass)
    reward = math.fsum(float(P[y]) * (math.log(float(joint[y])) if joint[y] > 0 else -math.inf) for y in mass)
    return tv, kl, reward


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.int64, np.float64])
def test_distances_are_float64_whatever_the_input_dtype(dtype):
    # dyadic probabilities are exact in every dtype; the logarithms must still be taken in float64
    model = exact.TabularAR.random((2, 3), seed=11)
    P = np.array([[0.25, 0.0, 0.25], [0.5, 0.0, 0.0]]) if dtype is not np.int64 else np.array([[0, 0, 0], [0, 1, 0]])
    want = brute_distances(model.joint(), 2.0, P)
    got = distances_to_power(model, 2.0, P.astype(dtype))
    assert got.tv == pytest.approx(want[0], abs=1e-15)
    assert got.kl == pytest.approx(want[1], abs=1e-14)
    assert got.self_reward == pytest.approx(want[2], abs=1e-14)


def test_mass_outside_the_support_of_pi_gives_infinite_kl():
    # π(0, 1) = 0, so π_α(0, 1) = 0: any P with mass there has KL(P ‖ π_α) = ∞ and E_P[log π] = -∞
    joint = np.array([[0.5, 0.0], [0.2, 0.3]])
    model = exact.TabularAR.from_joint(joint)
    P = np.array([[0.5, 0.5], [0.0, 0.0]])
    want = brute_distances(joint, 3.0, P)
    got = distances_to_power(model, 3.0, P)
    assert got.kl == math.inf and want[1] == math.inf
    assert got.self_reward == -math.inf
    assert got.tv == pytest.approx(want[0], abs=1e-15)


@pytest.mark.parametrize(
    "P, message",
    [
        (np.full(4, 0.25), r"^probabilities must have shape \(2, 2\), got \(4,\)$"),
        (np.array([[1.5, -0.5], [0.0, 0.0]]), r"^probabilities must be non-negative and sum to 1$"),  # sums to 1
        (np.array([[1.0, 0.5], [0.0, 0.0]]), r"^probabilities must be non-negative and sum to 1$"),  # sums to 1.5
        (np.array([[0.5, 0.5 + 1e-7], [0.0, 0.0]]), r"^probabilities must be non-negative and sum to 1$"),
    ],
)
def test_bad_probabilities_are_clear_value_errors(P, message):
    model = exact.TabularAR.random((2, 2), seed=11)
    with pytest.raises(ValueError, match=message):
        distances_to_power(model, 2.0, P)
