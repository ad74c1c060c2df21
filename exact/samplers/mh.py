"""Block Metropolis-Hastings power sampling (Algorithm 2 of arXiv 2605.04542; Karan & Du, arXiv 2510.14901) and Power(∞), exactly.

Algorithm 2 builds ``y`` in ``⌈T/B⌉`` blocks.  At block ``k`` the state is the
prefix ``y_{1:L}``, ``L = L_k = min((k+1)B, T)`` (``B`` need not divide ``T``);
it is initialised by extending the previous block's output with the proposal
``p_prop`` (the base model at temperature ``1/α_prop``, default ``α_prop = α``),
then ``N_MCMC`` steps each

1. draw ``m`` uniformly from ``{1, ..., |y|}``, ``|y|`` the current completion
   length (``= L`` without EOS);
2. keep ``y_{<m}``, resample ``y'_{m:} ~ p_prop(· | y_{<m})`` token by token until
   EOS or position ``L``;
3. accept with (Eq. 20 with the prefix marginal ``π(y_{1:L})``, times the Hastings
   factor of the restart position)

   ``A = min(1, [π(y'_{1:L})^α / π(y_{1:L})^α] · [p_prop(y_{m:} | y_{<m}) / p_prop(y'_{m:} | y_{<m})] · |y| / |y'|)``;

   Power(∞) (``greedy=True``) accepts iff ``π(y'_{1:L}) > π(y_{1:L})`` (strictly; ties,
   i.e. log probabilities within :data:`GREEDY_TIE_LOG_TOL`, are never accepted, so that
   float rounding of equal probabilities does not decide the move).

**EOS** (models with ``eos_token_id``; the EOS-absorbing tables of
:mod:`exact.eos`).  The state space of block ``k`` is the completions of
length ``L`` or ending at EOS before it, i.e. the padded prefixes of length
``L``; ``|y|`` is the position of the first EOS, else ``L``.  A chain whose
completion already ends at EOS at the start of a block skips that block (no
extension, no MH steps), as ``llm.sample_power_mh`` does.  The forward move
``y → y'`` has probability ``(1/|y|) p_prop(y'_{m:} | y_{<m})`` and the reverse
``(1/|y'|) p_prop(y_{m:} | y_{<m})`` (a restart position ``m ≤ |y|`` leaves the first
EOS of ``y`` outside ``y_{<m}``, so ``m ≤ |y'|`` too), hence the factor ``|y| / |y'|``.
Without it (``hastings=False``: the bug of the public reference code) each
fixed-``m`` kernel is reversible with respect to ``|y| π(y_{1:L})^α``, a law
biased towards long completions.  Without EOS ``|y| = L`` for every state and
the factor is 1.

Each fixed-``m`` kernel satisfies detailed balance with respect to the **block
target** ``π_{(L)}(y_{1:L}) ∝ π(y_{1:L})^α`` (the power of the *prefix
marginal*), and so does their mixture.  What this implies:

* the last block (``L = T``) targets ``π(y)^α``, i.e. ``π_α`` itself, and its
  kernel is irreducible on the support when the model has full support, so
  **every** ``B`` converges to ``π_α`` as ``N_MCMC → ∞`` -- except that under EOS
  the chains that finished in an earlier block never reach the last one, so
  ``B < T`` keeps a bias that no ``N_MCMC`` removes;
* the intermediate targets ``π(y_{1:L})^α = (Σ_z π(y_{1:L}, z))^α`` are *not*
  ``π_α``'s prefix marginals ``Σ_z π(y_{1:L}, z)^α`` (power of a sum vs sum of
  powers), so at a finite budget the earlier blocks hand the last one a
  start biased towards prefixes with large *total* base mass rather than large
  power mass; :func:`mh_output_distribution` measures the resulting error, and
  the ``samplers`` figure compares it with ``B = T`` at equal token cost (on its
  ``V = 3, T = 4, α = 4`` model, ``B = T/2`` has 1.4x, 3.3x and 2.3x the TV of
  ``B = T`` at 16, 64 and 256 token evaluations).

The exact output distribution is obtained by building each block's transition
matrix over all ``Π_{t≤L} V_t`` prefixes and pushing the distribution through
it (``N_MCMC``-th matrix power).  The sampler itself is ``llm.sample_power_mh`` /
``llm.sample_power_inf``; on ``llm.ToyModel`` its draws follow this law (tests/exact).
"""

from __future__ import annotations

import math

import numpy as np

from .._logspace import check_alpha, log_normalize
from .._memory import check_allocation
from .._tables import conditional_table, prefix_marginal_tables, temperature_prefix_tables
from .._validate import check_count
from ..eos import completion_lengths
from ..models import AutoregressiveModel
from ._common import SamplerDistribution


#: Power(∞) ties: ``log π(y') - log π(y) ≤`` this counts as equal (the ``argmax`` tolerance of
#: ``exact.sharpening``); equal probabilities computed by different routes (prefix marginals,
#: sums of log conditionals) differ by a few ulps, which must not decide an acceptance.
GREEDY_TIE_LOG_TOL = 1e-9


def mh_block_ends(horizon: int, block_size: int) -> list[int]:
    """``[L_0, L_1, ...]`` with ``L_k = min((k+1)B, T)``, ``k < ⌈T/B⌉`` (the last block may be shorter)."""
    horizon = check_count(horizon, "horizon")
    block_size = check_count(block_size, "block_size")
    return [min((k + 1) * block_size, horizon) for k in range(-(-horizon // block_size))]


def _prefix_eos(sizes: tuple[int, ...], eos_token_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Over all prefixes of shape ``sizes``: ``|y|`` (first EOS position, else ``len(sizes)``) and "contains EOS"."""
    if not sizes:
        return np.zeros((), dtype=np.int64), np.zeros((), dtype=bool)
    grid = np.moveaxis(np.indices(sizes), 0, -1)  # (*sizes, L): the prefix tokens
    return completion_lengths(grid, eos_token_id), (grid == eos_token_id).any(axis=-1)


def mh_kernel_from_tables(
    log_prefix: np.ndarray,
    log_proposal_prefix: list[np.ndarray],
    alpha: float,
    greedy: bool = False,
    lengths: np.ndarray | None = None,
    hastings: bool = True,
) -> np.ndarray:
    """Transition matrix ``K[y, y']`` of one MH step over prefixes of length ``L`` (flattened, C order).

    ``log_prefix`` is ``log π(y_{1:L})`` (shape ``V_1..V_L``), ``log_proposal_prefix[t]``
    the cumulative ``log p_prop(y_{1:t})`` for ``t = 0..L``, ``lengths`` the completion
    length ``|y|`` of each state (``None``: ``L`` for all, no EOS).  Off-diagonal entries are
    ``(1/|y|) Σ_{m ≤ |y|} [y'_{<m} = y_{<m}] p_prop(y'_{m:L} | y_{<m}) A_m(y, y')`` with ``A_m``
    including the Hastings factor ``|y|/|y'|`` unless ``hastings=False``; the diagonal takes
    the rejected mass.  Rows of impossible states accept every proposal (never visited).
    """
    sizes = log_prefix.shape
    L = len(sizes)
    N = math.prod(sizes)
    check_allocation((N, N), "the MH transition matrix")
    K = np.zeros((N, N))
    score = (log_prefix if greedy else alpha * log_prefix).reshape(-1)
    if lengths is None:
        length = np.full(N, L, dtype=np.int64)
        correction = None
    else:
        length = np.asarray(lengths, dtype=np.int64).reshape(-1)
        correction = np.log(length) if hastings else None  # the reverse move's 1/|y'| over the forward 1/|y|
    for m in range(1, L + 1):
        P = math.prod(sizes[: m - 1])
        S = N // P
        target = score.reshape(P, S)
        log_q = conditional_table(log_proposal_prefix[L].reshape(P, S), log_proposal_prefix[m - 1].reshape(P))
        with np.errstate(invalid="ignore"):
            if greedy:
                accept = (target[:, None, :] > target[:, :, None] + GREEDY_TIE_LOG_TOL).astype(np.float64)
            else:
                balance = target - log_q  # log of π^α / q (/ |y|); the ratio is balance(y') - balance(y)
                if correction is not None:
                    balance = balance - correction.reshape(P, S)
                log_ratio = balance[:, None, :] - balance[:, :, None]
                log_ratio = np.where(np.isnan(log_ratio), 0.0, log_ratio)
                accept = np.exp(np.minimum(log_ratio, 0.0))
        rows = length.reshape(P, S)
        move = np.exp(log_q)[:, None, :] * accept / rows[:, :, None]  # (P, S, S): from (p, s) to (p, s')
        if lengths is not None:
            move = np.where((rows >= m)[:, :, None], move, 0.0)  # m ~ U{1..|y|}
        block = np.arange(P)
        K.reshape(P, S, P, S)[block, :, block, :] += move
    K[np.diag_indices(N)] += 1.0 - K.sum(axis=1)
    return K


def _proposal_cost(log_proposal_prefix: list[np.ndarray], lengths: np.ndarray) -> np.ndarray:
    """Expected tokens one MH proposal samples from each state: ``(1/|y|) Σ_{m≤|y|} E[|y'| - m + 1]`` (flattened)."""
    L = len(lengths.shape)
    N = lengths.size
    flat = lengths.reshape(-1).astype(np.float64)
    out = np.zeros(N)
    for m in range(1, L + 1):
        P = math.prod(lengths.shape[: m - 1])
        S = N // P
        q = np.exp(conditional_table(log_proposal_prefix[L].reshape(P, S), log_proposal_prefix[m - 1].reshape(P)))
        per_prefix = (q * (flat.reshape(P, S) - m + 1)).sum(axis=1)  # (P,)
        out += np.where(flat >= m, np.repeat(per_prefix, S) / flat, 0.0)
    return out


def mh_kernel(
    model: AutoregressiveModel,
    alpha: float,
    length: int,
    proposal_alpha: float | None = None,
    greedy: bool = False,
    hastings: bool = True,
) -> np.ndarray:
    """One MH step of Algorithm 2 over prefixes of ``length`` tokens, as an ``(N, N)`` matrix (C order).

    Under EOS the restart position is ``m ~ U{1..|y|}`` and the acceptance has the Hastings
    factor ``|y|/|y'|``; ``hastings=False`` drops it (the kernel is then reversible with
    respect to ``|y| π(y_{1:L})^α``, not ``π(y_{1:L})^α``; see the module docstring).
    """
    alpha = check_alpha(alpha)
    beta = alpha if proposal_alpha is None else check_alpha(proposal_alpha, "proposal_alpha")
    length = check_count(length, "length")
    if length > model.horizon:
        raise ValueError(f"length {length} exceeds the horizon {model.horizon}")
    marginals = prefix_marginal_tables(model)
    eos = model.eos_token_id
    lengths = None if eos is None else _prefix_eos(tuple(model.vocab_sizes[:length]), eos)[0]
    return mh_kernel_from_tables(
        marginals[length], temperature_prefix_tables(marginals, beta)[: length + 1], alpha, greedy, lengths, hastings
    )


def mh_block_target(model: AutoregressiveModel, alpha: float, length: int) -> np.ndarray:
    """The block target ``π(y_{1:L})^α / Σ π(·)^α`` over prefixes of ``length`` tokens (not ``π_α``'s marginal)."""
    alpha = check_alpha(alpha)
    log_prefix = np.asarray(model.log_prefix_marginals(check_count(length, "length")))
    return np.exp(_normalize_all(alpha * log_prefix))


def _normalize_all(log_w: np.ndarray) -> np.ndarray:
    flat = log_normalize(log_w.reshape(-1))
    return flat.reshape(log_w.shape)


def mh_expected_cost(horizon: int, block_size: int, n_mcmc: int) -> float:
    """Expected token evaluations of Algorithm 2 **without EOS**: ``T + Σ_k N_MCMC (L_k + 1)/2`` (``m`` uniform on ``1..L_k``).

    ``L_k = min((k+1)B, T)``.  Under EOS the cost depends on the lengths the chains
    visit; :func:`mh_output_distribution` reports it exactly in ``expected_cost``.
    """
    n_mcmc = check_count(n_mcmc, "n_mcmc", minimum=0)
    return float(horizon + sum(n_mcmc * (L + 1) / 2 for L in mh_block_ends(horizon, block_size)))


def mh_output_distribution(
    model: AutoregressiveModel,
    alpha: float,
    block_size: int,
    n_mcmc: int,
    proposal_alpha: float | None = None,
    greedy: bool = False,
    hastings: bool = True,
) -> SamplerDistribution:
    """Exact output distribution of Algorithm 2 (MH; Power(∞) with ``greedy=True``).

    Block ``k`` (``L = L_k = min((k+1)B, T)``, ``s = L_{k-1}``): ``P_k^{(0)}(y_{1:L}) =
    P_{k-1}(y_{1:s}) p_prop(y_{s+1:L} | y_{1:s})``, then ``P_k = P_k^{(0)} K_L^{N_MCMC}`` with
    ``K_L`` = :func:`mh_kernel`; under EOS only the chains whose ``y_{1:s}`` has no EOS
    move (the others skip the block).  The block targets are ``π(y_{1:L})^α`` (see the
    module docstring: only the last equals ``π_α``).  ``proposal_alpha``: the proposal is the
    base at temperature ``1/proposal_alpha`` (default ``alpha``, as in the paper's experiments).
    ``hastings=False``: the law of the sampler that omits the factor ``|y|/|y'|`` (identical
    without EOS).  ``expected_cost``: token evaluations, i.e. tokens sampled (with EOS: the
    extension up to EOS or ``L``, and ``|y'| - m + 1`` per proposal), computed exactly.
    """
    alpha = check_alpha(alpha)
    beta = alpha if proposal_alpha is None else check_alpha(proposal_alpha, "proposal_alpha")
    ends = mh_block_ends(model.horizon, block_size)
    n_mcmc = check_count(n_mcmc, "n_mcmc", minimum=0)
    marginals = prefix_marginal_tables(model)
    proposal = temperature_prefix_tables(marginals, beta)
    sizes = tuple(model.vocab_sizes)
    eos = model.eos_token_id
    dist = np.ones(())
    cost = 0.0
    start = 0
    for L in ends:
        width = L - start
        extend = np.exp(conditional_table(proposal[L], proposal[start]))  # p_prop(y_{s+1:L} | y_{1:s})
        dist = dist.reshape(dist.shape + (1,) * width) * extend
        if eos is None:
            if n_mcmc:
                kernel = mh_kernel_from_tables(marginals[L], proposal[: L + 1], alpha, greedy)
                dist = (dist.reshape(-1) @ np.linalg.matrix_power(kernel, n_mcmc)).reshape(dist.shape)
        else:
            lengths, _ = _prefix_eos(sizes[:L], eos)
            _, ended = _prefix_eos(sizes[:start], eos)
            ended = np.broadcast_to(ended.reshape(ended.shape + (1,) * width), dist.shape)
            moving = np.where(ended, 0.0, dist)  # chains that finished at EOS before this block skip it
            cost += float((moving * (lengths - start)).sum())
            if n_mcmc:
                kernel = mh_kernel_from_tables(marginals[L], proposal[: L + 1], alpha, greedy, lengths, hastings)
                step_cost = _proposal_cost(proposal[: L + 1], lengths)
                flat = moving.reshape(-1)
                for _ in range(n_mcmc):
                    cost += float(flat @ step_cost)
                    flat = flat @ kernel
                moving = flat.reshape(dist.shape)
            dist = np.where(ended, dist, 0.0) + moving  # moving chains may visit states that end early too
        start = L
    dist = np.clip(dist, 0.0, None)
    if eos is None:
        cost = mh_expected_cost(model.horizon, block_size, n_mcmc)
    return SamplerDistribution(dist / dist.sum(), np.zeros_like(dist), cost, True)


__all__ = [
    "mh_block_ends",
    "mh_kernel",
    "mh_block_target",
    "mh_expected_cost",
    "mh_output_distribution",
]
