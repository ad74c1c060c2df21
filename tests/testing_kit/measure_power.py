"""Measure the documented check's power and false-alarm rate over seeds (issue 9's Done-when).

    .venv/bin/python tests/testing_kit/measure_power.py [--seeds 1000] [--null-seeds 4000]

For each sampler of the zoo, on the suffix-entropy toy at α = 2, run
``exact.testing.assert_sampler_matches(sampler, model, power_target(model, 2), n=1000,
rng=default_rng(seed), alpha_level=0.01)`` for many seeds and count failures.
The correct sampler is also checked against its own exact output law (``init @ K^20``),
which isolates the test's false-alarm rate from the (negligible) MCMC error.
The library never imports this script.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).parent))

import exact.testing as kit  # noqa: E402
from sampler_zoo import ALPHA, ALPHA_LEVEL, N_DRAWS, N_MCMC, SUFFIX_ENTROPY_JOINT, suffix_entropy_toy, zoo  # noqa: E402
from sampler_zoo import mh_output_law  # noqa: E402


def failure_rate(sampler, model, target, seeds: range, alpha_level: float = ALPHA_LEVEL, method: str = "pearson") -> float:
    """Fraction of seeds for which the documented check raises."""
    failures = 0
    for seed in seeds:
        try:
            kit.assert_sampler_matches(sampler, model, target, N_DRAWS, np.random.default_rng(seed), alpha_level, method)
        except AssertionError:
            failures += 1
    return failures / len(seeds)


def measure(seeds: int = 1000, null_seeds: int = 4000, verbose: bool = False) -> dict[str, float]:
    """Failure rates: each broken sampler over ``seeds`` seeds, the correct one over ``null_seeds``."""
    model = suffix_entropy_toy()
    target = kit.power_target(model, ALPHA)
    rates = {}
    for name, sampler in zoo().items():
        count = null_seeds if name == "correct" else seeds
        start = time.perf_counter()
        rates[name] = failure_rate(sampler, model, target, range(count))
        if verbose:
            _print(f"{name} vs π_α", rates[name], count, time.perf_counter() - start)
    if verbose:
        own_law = mh_output_law(SUFFIX_ENTROPY_JOINT, ALPHA, N_MCMC)
        seeds_range = range(10**6, 10**6 + null_seeds)
        for level, method in ((ALPHA_LEVEL, "pearson"), (0.05, "pearson"), (ALPHA_LEVEL, "g")):
            rate = failure_rate(zoo()["correct"], model, own_law, seeds_range, level, method)
            _print(f"correct vs own law ({method}, level {level})", rate, null_seeds, float("nan"))
    return rates


def _print(label: str, rate: float, count: int, seconds: float) -> None:
    k = round(rate * count)
    low = stats.beta.ppf(0.025, k, count - k + 1) if k else 0.0
    high = stats.beta.ppf(0.975, k + 1, count - k) if k < count else 1.0
    print(f"{label:<40} failure rate {rate:.4f} ({k}/{count}; 95% CI [{low:.4f}, {high:.4f}])  {seconds:.1f}s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--null-seeds", type=int, default=4000)
    args = parser.parse_args()
    print(f"suffix-entropy toy, alpha = {ALPHA}, N_MCMC = {N_MCMC}, n = {N_DRAWS}, alpha_level = {ALPHA_LEVEL}")
    measure(args.seeds, args.null_seeds, verbose=True)
