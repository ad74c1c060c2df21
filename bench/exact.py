"""``python -m bench exact``: time the exact engine against naive enumeration and the memory floor.

For ``V = 10`` and ``T = 4 .. 8`` (10⁴ to 10⁸ leaves) it times, side by side on
the same random ``TabularAR`` (built with ``from_log_joint`` so construction is
not timed):

* **engine** -- ``exact.all_power_conditionals(model, α)``: ``π_pow,α(y_t | y_<t)``
  at every prefix of every length (Eqs. 8 and 10);
* **floor** -- one ``np.exp(α * x).sum()`` pass over a float64 array of the same
  size (the memory-bandwidth floor: any exact method reads every leaf at least once);
* **naive** -- a pure-Python ``itertools.product`` enumeration of the same
  conditionals (sizes it can finish; the rest print "skipped", nothing is extrapolated).

Then the Markov dynamic programme: ``exact.power_conditional`` on a fresh
``MarkovAR`` (cold cache) at ``T = 10 000``, ``V = 50``.

Targets (issue 2): engine within 4× of the floor at 10⁷-10⁸ leaves, ≥ 100×
faster than naive, Markov DP under 1 s.  Times are the best of ``--repeats``
runs (wall clock, ``time.perf_counter``).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import time
from typing import Callable

import numpy as np

import exact
from exact._validate import (
    CommandLineParser, alpha_argument, count_argument, integer_argument, positive_argument, run_command,
)


def _best_time(fn: Callable[[], object], repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def naive_power_conditionals(log_joint: np.ndarray, alpha: float) -> dict[tuple[int, ...], list[float]]:
    """``{prefix: [π_pow,α(s | prefix) for s]}`` by enumerating every sequence with ``itertools.product``."""
    sizes = log_joint.shape
    totals: dict[tuple[int, ...], float] = {}
    for y, lp in zip(itertools.product(*[range(v) for v in sizes]), log_joint.ravel().tolist()):
        w = math.exp(alpha * lp)
        for t in range(len(sizes)):
            key = y[:t]
            totals[key] = totals.get(key, 0.0) + w
        totals[y] = w
    out = {}
    for prefix, total in totals.items():
        if len(prefix) < len(sizes):
            out[prefix] = [totals[prefix + (s,)] / total for s in range(sizes[len(prefix)])]
    return out


def _random_log_joint(vocab_size: int, horizon: int, seed: int) -> np.ndarray:
    """Normal(0, 2) logits over all ``V^T`` sequences, normalised in place (no extra copy)."""
    rng = np.random.default_rng(seed)
    logp = rng.standard_normal((vocab_size,) * horizon)
    logp *= 2.0
    logp -= exact.logsumexp(logp, axis=None)
    return logp


def _available_bytes() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return None


def _fmt(seconds: float | None) -> str:
    return "skipped" if seconds is None else f"{seconds:.4f}"


def build_parser() -> argparse.ArgumentParser:
    parser = CommandLineParser(prog="python -m bench exact", description=__doc__.split("\n")[0])
    parser.add_argument("--vocab-size", type=integer_argument(2, name="vocab size"), default=10)  # V = 1: V^T never grows
    parser.add_argument("--max-leaves", type=positive_argument("max leaves"), default=1e8, help="largest V^T to time (default 1e8)")
    parser.add_argument("--alpha", type=alpha_argument, default=4.0)
    parser.add_argument("--repeats", type=count_argument, default=3)
    parser.add_argument("--naive-max-leaves", type=positive_argument("naive max leaves"), default=1e6,
                        help="largest size the naive route attempts")
    parser.add_argument("--naive-time-cap", type=positive_argument("naive time cap"), default=10.0,
                        help="after a naive run longer than this (s), larger sizes print 'skipped'")
    parser.add_argument("--markov-horizon", type=count_argument, default=10_000)
    parser.add_argument("--markov-vocab", type=count_argument, default=50)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The benchmark; a bad option (or a size the memory cap refuses) is one line and exit status 2."""
    return run_command(build_parser(), argv, _run)


def _run(args: argparse.Namespace) -> int:
    V, alpha = args.vocab_size, args.alpha
    print(f"bench exact: numpy {np.__version__}, python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, alpha = {alpha}, best of {args.repeats}")
    header = f"{'V^T':>8} {'leaves':>12} {'engine s':>10} {'floor s':>10} {'engine/floor':>13} {'naive s':>10} {'naive/engine':>13}"
    print(header)
    print("-" * len(header))
    naive_allowed = True
    ratios: dict[int, tuple[float, float | None]] = {}
    horizon = 4
    while V**horizon <= args.max_leaves:
        leaves = V**horizon
        need = 5 * 8 * leaves  # log joint + model copy + engine leaf table + floor temporaries
        avail = _available_bytes()
        if avail is not None and need > avail:
            print(f"{V}^{horizon:<6} {leaves:>12,} skipped: needs ~{need / 2**30:.1f} GiB, {avail / 2**30:.1f} GiB free")
            break
        model = exact.TabularAR.from_log_joint(_random_log_joint(V, horizon, seed=horizon))
        x = model.log_joint()
        repeats = args.repeats if leaves < 10**8 else max(1, min(args.repeats, 2))
        engine = _best_time(lambda: exact.all_power_conditionals(model, alpha), repeats)
        floor = _best_time(lambda: np.exp(alpha * x).sum(), repeats)
        naive = None
        if naive_allowed and leaves <= args.naive_max_leaves:
            naive = _best_time(lambda: naive_power_conditionals(x, alpha), 1)
            if naive > args.naive_time_cap:
                naive_allowed = False
        ratios[leaves] = (engine / floor, None if naive is None else naive / engine)
        naive_ratio = "skipped" if naive is None else f"{naive / engine:.0f}x"
        print(f"{V}^{horizon:<6} {leaves:>12,} {engine:>10.4f} {floor:>10.4f} {engine / floor:>12.2f}x "
              f"{_fmt(naive):>10} {naive_ratio:>13}")
        del model, x
        horizon += 1

    # Markov DP, cold cache: a fresh model, so log_suffix_masses runs its O(T V^2) recursion
    markov = exact.MarkovAR.random(args.markov_vocab, args.markov_horizon, seed=0)
    start = time.perf_counter()
    cond = exact.power_conditional(markov, [], alpha)
    markov_time = time.perf_counter() - start
    assert abs(cond.sum() - 1.0) < 1e-12
    print(f"\nMarkov DP: power_conditional on MarkovAR(V={args.markov_vocab}, T={args.markov_horizon:,}), "
          f"cold cache: {markov_time:.3f} s (log Z = {exact.log_partition(markov, alpha):.6g})")

    big = [r for leaves, r in ratios.items() if leaves >= 10**7]
    naive_ratios = [r[1] for r in ratios.values() if r[1] is not None]
    print("\ntargets:")
    if big:
        print(f"  engine/floor at >= 1e7 leaves: max {max(r[0] for r in big):.2f}x (target <= 4x): "
              f"{'PASS' if max(r[0] for r in big) <= 4 else 'MISS'}")
    if naive_ratios:
        print(f"  naive/engine: min {min(naive_ratios):.0f}x over the sizes naive finished (target >= 100x): "
              f"{'PASS' if min(naive_ratios) >= 100 else 'MISS'}")
    print(f"  Markov DP T={args.markov_horizon:,}: {markov_time:.3f} s (target < 1 s): {'PASS' if markov_time < 1 else 'MISS'}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.exit(main(sys.argv[1:]))
