"""Self-reward Best-of-N (Section 6.1 of arXiv 2605.04542), exactly.

The sampler draws ``N`` i.i.d. candidates from the base model at temperature
``τ`` (``q(y_t | y_<t) ∝ π(y_t | y_<t)^{1/τ}``) and returns the one with the
largest length-normalised self-reward

    ``r(y) = (1/|y|) Σ_{t ≤ |y|} log π(y_t | y_<t)``,

ties going to the first candidate (``torch.argmax``), as ``llm.sample_best_of_n``
does (the one implementation of the sampler; this module holds its exact law).
Under EOS (:mod:`exact.eos`) ``|y|`` is the completion length (up to and
including the first EOS), so a short completion is not favoured merely for
having fewer negative terms; ``length_normalized=False`` ranks by the sum
``log π(y)`` instead.

**Exact law.**  Let ``F_<(r) = P_q(r(Y) < r)``, ``F_≤(r) = P_q(r(Y) ≤ r)`` and
``p(r) = F_≤(r) - F_<(r)`` (the proposal mass of the tie class of ``r``).  The
output is ``y`` iff some candidate ``j`` equals ``y``, the candidates before it
score ``< r(y)`` and those after it ``≤ r(y)``:

    ``P(y) = Σ_{j=1}^N F_<^{j-1} q(y) F_≤^{N-j} = (q(y) / p(r)) (F_≤^N - F_<^N)``,

i.e. the probability that the best reward is ``r(y)``, shared within the tie
class in proportion to ``q`` (the first maximal candidate is a ``q``-draw
conditioned on the class).  It is evaluated as
``(q/p) F_≤^N · (-expm1(N log1p(-p/F_≤)))``, which keeps its relative precision
when ``p ≪ F_≤``.  Rewards closer than ``tie_tolerance`` (relative) form one tie
class: a real sampler compares float sums whose rounding depends on the order of
summation, and exactly equal rewards (e.g. a uniform model) must stay tied.
"""

from __future__ import annotations

import numpy as np

from .._tables import prefix_marginal_tables, temperature_prefix_tables
from .._validate import check_count, check_nonnegative, check_positive
from ..eos import completion_lengths
from ..models import AutoregressiveModel
from ._common import SamplerDistribution

#: Relative gap below which two rewards are one tie class (float sums of the same reward differ by ~1e-16).
TIE_TOLERANCE = 1e-12


def _sequence_grid(sizes) -> np.ndarray:
    return np.moveaxis(np.indices(tuple(sizes)), 0, -1)


def best_of_n_rewards(model: AutoregressiveModel, length_normalized: bool = True) -> np.ndarray:
    """``r(y) = log π(y) / |y|`` (or ``log π(y)`` when not ``length_normalized``) over every padded sequence.

    Shape ``vocab_sizes``; ``-inf`` where ``π(y) = 0``.  ``|y|`` is ``T`` without EOS.
    """
    log_joint = np.asarray(prefix_marginal_tables(model)[-1], dtype=np.float64)
    if not length_normalized:
        return log_joint
    lengths = completion_lengths(_sequence_grid(model.vocab_sizes), model.eos_token_id)
    return log_joint / lengths


def best_of_n_probabilities(
    log_proposal: np.ndarray, rewards: np.ndarray, n_candidates: int, tie_tolerance: float = TIE_TOLERANCE
) -> np.ndarray:
    """``P(Best-of-N outputs y)`` for candidates ``y ~ q`` i.i.d. ranked by ``rewards``, ties to the first.

    ``log_proposal``: ``log q`` over any array of outcomes (``-inf`` = never proposed);
    ``rewards``: same shape, finite or ``-inf`` where ``q > 0``.  Closed form of the module
    docstring; returns an array of the same shape summing to 1.
    """
    log_q = np.asarray(log_proposal, dtype=np.float64)
    r = np.asarray(rewards, dtype=np.float64)
    if log_q.shape != r.shape:
        raise ValueError(f"log_proposal has shape {log_q.shape} but rewards {r.shape}")
    N = check_count(n_candidates, "n_candidates")
    tie_tolerance = check_nonnegative(tie_tolerance, "tie_tolerance")
    q = np.exp(log_q.reshape(-1))
    if np.any(np.isnan(q)) or abs(q.sum() - 1.0) > 1e-9:
        raise ValueError(f"exp(log_proposal) must be a probability array summing to 1 (sum {q.sum():.12g})")
    flat_r = r.reshape(-1)
    support = np.flatnonzero(q > 0)
    if np.any(np.isnan(flat_r[support])) or np.any(flat_r[support] == np.inf):
        raise ValueError("rewards must be finite or -inf wherever the proposal has mass")
    order = support[np.argsort(flat_r[support], kind="stable")]
    values = flat_r[order]
    with np.errstate(invalid="ignore"):
        gap = np.diff(values)
        tied = (values[1:] == values[:-1]) | (gap <= tie_tolerance * np.maximum(1.0, np.abs(values[1:])))
    group = np.concatenate([[0], np.cumsum(~tied)])  # tie class of each sorted outcome, ascending rewards
    mass = np.bincount(group, weights=q[order])  # p(r) per class
    at_most = np.cumsum(mass)  # F_≤
    with np.errstate(divide="ignore"):
        share = -np.expm1(N * np.log1p(-np.minimum(mass / at_most, 1.0)))  # 1 - (F_< / F_≤)^N
    best = np.exp(N * np.log(at_most)) * share  # P(the best reward is in this class)
    out = np.zeros(q.size)
    out[order] = q[order] / mass[group] * best[group]
    return out.reshape(log_q.shape) / out.sum()


def best_of_n_output_distribution(
    model: AutoregressiveModel,
    n_candidates: int,
    temperature: float = 1.0,
    length_normalized: bool = True,
    tie_tolerance: float = TIE_TOLERANCE,
) -> SamplerDistribution:
    """Exact output law of self-reward Best-of-``N`` at temperature ``τ`` (module docstring).

    ``expected_cost``: ``N · E_q[|y|]`` token evaluations (candidates stop at EOS).
    """
    tau = check_positive(temperature, "temperature")
    N = check_count(n_candidates, "n_candidates")
    log_q = temperature_prefix_tables(prefix_marginal_tables(model), 1.0 / tau)[-1]
    probs = best_of_n_probabilities(log_q, best_of_n_rewards(model, length_normalized), N, tie_tolerance)
    lengths = completion_lengths(_sequence_grid(model.vocab_sizes), model.eos_token_id)
    cost = N * float((np.exp(log_q) * lengths).sum())
    return SamplerDistribution(probs, np.zeros_like(probs), cost, True)


__all__ = [
    "TIE_TOLERANCE",
    "best_of_n_output_distribution",
    "best_of_n_probabilities",
    "best_of_n_rewards",
]
