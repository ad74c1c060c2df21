"""Measure how often the documented check catches each bug of the EOS zoo, and its false-alarm rate.

    .venv/bin/python tests/testing_kit/measure_eos_power.py [--seeds 200] [--null-seeds 1000]

For every sampler of ``eos_zoo.zoo()`` and many seeds: draw n = 1000 completions on the
family's documented toy (``eos_zoo.documented_check``) and run the check a user would run:

* the completions must be completions of the model (``exact.pad_completions``: a completion
  cut short without EOS fails the check);
* the chi-square test against the exact target at level 0.01;
* the reproducibility check: the same seed twice must give the same completions.

A broken sampler is caught when any of the three fails.  The correct samplers' failure
rate is the false-alarm rate (stated: 0.01, the chi-square level; the other two never
fail a correct sampler).  The library never imports this script.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import exact  # noqa: E402
from eos_zoo import ALPHA_LEVEL, N_DRAWS, documented_check, zoo  # noqa: E402


def caught(sampler, family: str, seed: int, check_reproducible: bool = True) -> str | None:
    """Why the documented check fails for this seed (``None``: it passes)."""
    documented = documented_check(family)
    toy = documented.toy
    completions = sampler(toy, N_DRAWS, np.random.default_rng(seed))
    try:
        draws = exact.pad_completions(completions, toy.horizon, toy.eos_token_id)
    except ValueError:
        return "not a completion of the model"
    if exact.chi_square_pvalue(draws, documented.target) < ALPHA_LEVEL:
        return "chi-square"
    if check_reproducible and sampler(toy, N_DRAWS, np.random.default_rng(seed)) != completions:
        return "not reproducible"
    return None


def measure(seeds: int = 200, null_seeds: int = 1000, verbose: bool = False) -> dict[str, float]:
    """Failure rate of the check per sampler: broken ones over ``seeds``, correct ones over ``null_seeds``."""
    rates = {}
    for name, sampler in zoo().items():
        family = name.split("_", 1)[0]
        count = null_seeds if name.endswith("_correct") else seeds
        start = time.perf_counter()
        # the reproducibility check costs a second run; correct samplers are deterministic by construction
        reasons = [caught(sampler, family, 10**6 + s, not name.endswith("_correct")) for s in range(count)]
        rates[name] = sum(r is not None for r in reasons) / count
        if verbose:
            why = sorted({r for r in reasons if r})
            print(f"{name:<24} {rates[name]:7.3f} over {count:5d} seeds  ({time.perf_counter() - start:6.1f} s)  {why}")
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--null-seeds", type=int, default=1000)
    args = parser.parse_args()
    measure(args.seeds, args.null_seeds, verbose=True)


if __name__ == "__main__":
    main()
