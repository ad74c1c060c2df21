"""Reusable checks for samplers on toy models: sequence counts and a chi-square goodness of fit."""

import itertools

__all__ = ["all_sequences", "chi_square_pvalue", "sequence_counts"]

import numpy as np
from scipy import stats


def sequence_counts(tokens, vocab_sizes) -> np.ndarray:
    """Counts of each complete sequence, as a dense array of shape ``vocab_sizes``."""
    counts = np.zeros(vocab_sizes)
    for row in tokens:
        counts[tuple(row)] += 1
    return counts


def chi_square_pvalue(counts: np.ndarray, probabilities: np.ndarray, min_expected: float = 5.0) -> float:
    """Pearson chi-square p-value of ``counts`` against ``probabilities``, pooling cells with expected < 5.

    Raises AssertionError when a count falls in a cell of probability zero (impossible outcome).
    """
    counts = np.asarray(counts, dtype=float).ravel()
    p = np.asarray(probabilities, dtype=float).ravel()
    assert np.all(counts[p <= 0] == 0), "a sequence of probability zero was sampled"
    n = counts.sum()
    expected = n * p
    big = expected >= min_expected
    obs = list(counts[big])
    exp = list(expected[big])
    if (~big).any() and expected[~big].sum() > 0:
        obs.append(counts[~big].sum())
        exp.append(expected[~big].sum())
    exp = np.array(exp)
    exp *= n / exp.sum()
    return float(stats.chisquare(obs, exp).pvalue)


def all_sequences(vocab_sizes):
    return list(itertools.product(*[range(v) for v in vocab_sizes]))
