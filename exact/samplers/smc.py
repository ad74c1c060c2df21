"""Importance samplers for ``π_α``: SIS, sampling-importance-resampling (SIR) and Power-SMC.

Target ``γ(y) = π(y)^α`` (unnormalised ``π_α``, Eq. 4; ``Z_α = Σ_y γ(y)``), proposal
``q(y) = Π_t q(y_t | y_<t)``, one of (Section 4.2 / Appendix B.2.5):

* ``"base"``: ``q = π``;  ``"temperature"``: ``q(y_t | y_<t) ∝ π(y_t | y_<t)^α`` (Eq. 5);
* ``"optimal"``: ``q = π_α`` through the power conditionals (Eq. 10; weights constant);
* or **any proposal given as log-probs**: a dense table ``log q(y_{1:T})`` of shape
  ``vocab_sizes`` (an ``np.ndarray``), or per-step tables ``log q(y_t | y_<t)``
  (a list/tuple whose entry ``t-1`` has shape ``V_1..V_t``), e.g. the top-k / top-p
  truncated temperature proposals of :func:`truncated_proposal`
  (:func:`proposal_log_conditionals` resolves every form).

A proposal that misses part of ``π_α``'s support (top-k, top-p) is allowed: the samplers
then target what they actually output, and the sequences ``q`` never proposes get
probability 0.  ``weight_proposal`` (default: the proposal itself) is the ``q`` used in
the weights ``γ/q``; a different one reproduces code that samples from one proposal and
weights with another (e.g. a nucleus-truncated sampler weighted with the untruncated ``q``).

**SIS.** Final weights ``w(y) = γ(y)/q(y)``; the population ``ESS/N = E_q[w]²/E_q[w²]
= Z_α² / Σ_y γ(y)²/q(y)`` (:func:`sis_ess_fraction`).

**SIR with N particles.** Draw ``y_1..y_N ~ q`` i.i.d., output ``y_I`` with
``P(I = i) ∝ w(y_i)``.  Its output distribution is exact for any ``N`` by
``1/x = ∫_0^∞ e^{-sx} ds``:

    ``P(y) = N q(y) w(y) ∫_0^∞ e^{-s w(y)} φ(s)^{N-1} ds``,  ``φ(s) = E_q[e^{-s w}]``

(:func:`sir_output_distribution`; it tends to ``π_α`` as ``N → ∞``, and is ``q`` at ``N = 1``).

**Power-SMC** (Azizi et al. 2026, arXiv 2602.10273).  ``N`` particles grow token by
token with the proposal at temperature ``1/α``; incremental log-weight at step ``t``

    ``log w_t = α_t log π(y_{1:t}) - α_{t-1} log π(y_{1:t-1}) - log q(y_t | y_<t)``

(with a constant exponent ``α_t = α`` this is ``α log π(y_t | y_<t) - log q(y_t | y_<t)``;
``ramp=True`` uses ``α_t = 1 + (α - 1) t/T``); systematic resampling whenever
``ESS/N < ess_threshold`` (never after the last token); the output is one particle drawn
by its final weight.  The sampler is ``llm.sample_power_smc``; :func:`power_smc` here is
the vectorised law-estimator (no closed form exists).  Its log-evidence ``log Ẑ = Σ_t log Σ_i W_{t-1}^i w_t^i``
(``E[Ẑ] = Z_α``).  Output distribution by Monte Carlo over independent runs, using all
weighted particles of each run (Rao-Blackwellised: ``E[Σ_i W^i δ_{y^i}]`` is exactly
the law of the output), with standard errors across runs.  SIR is the special case
``ess_threshold = 0`` with the base (or any) proposal.

**EOS** (``exact.eos``: EOS absorbing in the dense table).  A particle that has drawn EOS
is finished: every later row of the model (and of every proposal, which is made
absorbing too) is the point mass on EOS, so it keeps drawing EOS with ``log q = 0`` and
gains log-weight ``α·0 - 0 = 0``, exactly as ``llm.sample_power_smc`` gives a stopped
particle log-weight 0.  ``llm`` stops decoding once *every* particle has finished and
never resamples after that; the simulation here does the same (a run whose particles have
all finished never resamples again), so the two agree in law, resampling counts included.
(Resampling there would change neither the output law nor ``Ẑ``: systematic resampling is
unbiased, ``E[# copies of i] = N W^i``, and the weights never change again.)  With
``ramp=True`` a finished particle still gains ``(α_t - α_{t-1}) log π(y)`` per step, which
the intermediate targets ``π(y_{1:t})^{α_t}`` require; ``llm`` has no ramp.

**Cost.** Token evaluations are counted for unfinished particles only: ``N·T`` per output
without EOS, ``Σ_i |y^i|``-like with EOS (a finished particle needs no forward step).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence, Union

import numpy as np

from .._logspace import check_alpha, log_normalize, logsumexp
from .._numerics import effective_sample_size, inverse_cdf, systematic_resample
from .._tables import conditional_tables, cumulate, prefix_levels, prefix_marginal_tables, temperature_prefix_tables
from .._validate import check_count, check_rng, check_unit_interval, real_array
from ..eos import absorb_eos, completion_lengths
from ..models import AutoregressiveModel
from ..power import all_power_conditionals, log_power_joint
from ._common import LAPLACE_STEP, SamplerDistribution, laplace_log_nodes, scorer

#: Proposal names understood by the importance samplers.
SMC_PROPOSALS = ("base", "temperature", "optimal")

#: Tolerance on ``|Σ q - 1|`` for a proposal given as log-probs (a dense table or each reachable row).
PROPOSAL_TOL = 1e-9

#: A proposal: a name in :data:`SMC_PROPOSALS`, a dense ``log q(y_{1:T})`` table, or per-step
#: ``log q(y_t | y_<t)`` tables (entry ``t-1`` of shape ``V_1..V_t``).
Proposal = Union[str, np.ndarray, Sequence[np.ndarray]]


def _absorbing(model: AutoregressiveModel, tables: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """The per-step tables with every row after EOS replaced by the point mass on EOS (``exact.eos``)."""
    eos = getattr(model, "eos_token_id", None)
    out = tuple(absorb_eos(table, eos) if eos is not None else np.array(table, dtype=np.float64) for table in tables)
    for table in out:
        table.setflags(write=False)
    return out


def _check_log_values(table: np.ndarray, label: str) -> None:
    if np.any(np.isnan(table)) or np.any(table == np.inf):
        raise ValueError(f"{label} has NaN or +inf entries (log-probabilities: use -inf for zero)")


def proposal_log_conditionals(model: AutoregressiveModel, alpha: float, proposal: Proposal) -> tuple[np.ndarray, ...]:
    """``log q(y_t | y_<t)`` of any proposal as per-step tables: entry ``t-1`` has shape ``V_1..V_t``.

    ``proposal`` is a name (``"base"``: ``π``; ``"temperature"``: ``∝ π^α``, Eq. 5;
    ``"optimal"``: the power conditionals, Eq. 10), a dense table ``log q(y_{1:T})`` of
    shape ``vocab_sizes`` summing to 1 (conditionals ``q(y_{1:t}) / q(y_{<t})`` from its
    own marginals), or per-step tables; every row ``q`` reaches (``q(y_<t) > 0``) must sum
    to 1 within :data:`PROPOSAL_TOL`, other rows are never used.  ``-inf`` is a legal zero.
    On an EOS model the rows after EOS become the point mass on EOS (a finished sequence is
    never extended; for a dense table this sums its mass over what follows the EOS).
    Rows under prefixes of probability 0 are all ``-inf``.
    """
    alpha = check_alpha(alpha)
    sizes = tuple(model.vocab_sizes)
    if isinstance(proposal, str):
        if proposal not in SMC_PROPOSALS:
            raise ValueError(f"unknown proposal {proposal!r}; use one of {SMC_PROPOSALS} or log-prob tables")
        if proposal == "optimal":
            with np.errstate(divide="ignore"):
                return _absorbing(model, [np.log(table) for table in all_power_conditionals(model, alpha)])
        conditionals = conditional_tables(prefix_marginal_tables(model))
        if proposal == "temperature":
            conditionals = [log_normalize(alpha * table) for table in conditionals]
        return _absorbing(model, conditionals)
    if isinstance(proposal, np.ndarray):
        log_q = real_array(proposal, "the proposal table")
        if log_q.shape != sizes:
            raise ValueError(f"a dense proposal table must have shape vocab_sizes = {sizes}, got {log_q.shape}")
        _check_log_values(log_q, "the proposal table")
        total = float(logsumexp(log_q, axis=None))
        if not abs(np.expm1(total)) <= PROPOSAL_TOL:
            raise ValueError(f"the proposal table must sum to 1 within {PROPOSAL_TOL:g}; it sums to {float(np.exp(total))!r}")
        return _absorbing(model, conditional_tables(prefix_levels(log_q)))
    if not isinstance(proposal, (list, tuple)):
        raise ValueError(
            f"proposal must be a name in {SMC_PROPOSALS}, a dense log-prob np.ndarray of shape {sizes} or a "
            f"list of per-step log conditional tables, got {type(proposal).__name__}"
        )
    if len(proposal) != len(sizes):
        raise ValueError(f"per-step proposal tables: need T = {len(sizes)} tables, got {len(proposal)}")
    tables = []
    reach = np.zeros(())  # log q(y_{<t}) of every prefix
    for t, entry in enumerate(proposal):
        table = real_array(entry, f"proposal table {t}")
        if table.shape != sizes[: t + 1]:
            raise ValueError(f"proposal table {t} must have shape {sizes[: t + 1]}, got {table.shape}")
        _check_log_values(table, f"proposal table {t}")
        reached = np.isfinite(reach)
        row_sums = logsumexp(table, axis=-1)
        bad = reached & ~(np.abs(np.expm1(np.where(reached, row_sums, 0.0))) <= PROPOSAL_TOL)
        if np.any(bad):
            where = tuple(int(v) for v in np.argwhere(bad)[0])
            raise ValueError(
                f"proposal table {t}: the row after prefix {list(where)} sums to {float(np.exp(row_sums[where]))!r}, "
                f"not 1 within {PROPOSAL_TOL:g} (every row the proposal reaches must be a distribution)"
            )
        table = np.where(reached[..., None], table, -np.inf)  # unreachable rows: never used
        tables.append(table)
        reach = reach[..., None] + table
    return _absorbing(model, tables)


def log_proposal_joint(model: AutoregressiveModel, alpha: float, proposal: Proposal) -> np.ndarray:
    """``log q(y_{1:T}) = Σ_t log q(y_t | y_<t)`` over every sequence (shape ``vocab_sizes``), any proposal form."""
    alpha = check_alpha(alpha)
    if isinstance(proposal, str) and proposal in SMC_PROPOSALS:
        if proposal == "optimal":
            return log_power_joint(model, alpha)
        marginals = prefix_marginal_tables(model)
        return marginals[-1] if proposal == "base" else temperature_prefix_tables(marginals, alpha)[-1]
    return cumulate(proposal_log_conditionals(model, alpha, proposal))[-1]


def _check_top_k(top_k: object) -> int | None:
    return None if top_k is None else check_count(top_k, "top_k")


def _check_top_p(top_p: object) -> float | None:
    return None if top_p is None else check_unit_interval(top_p, "top_p")


def truncate_log_probs(log_probs: np.ndarray, top_k: int | None = None, top_p: float | None = None) -> np.ndarray:
    """Top-k then top-p (nucleus) truncation of normalised rows ``log q(·)`` (last axis), renormalised.

    Top-k keeps every token whose probability is at least the k-th largest (ties with it
    kept, as transformers' ``TopKLogitsWarper``); top-p keeps the smallest set of most
    probable tokens whose mass reaches ``top_p``: token ``v`` stays iff the mass of the
    tokens ranked before it is ``< top_p`` (Holtzman et al. 2020, arXiv 1904.09751; ties
    ranked by token id).  This is the order transformers applies its warpers in
    (temperature, top-k, top-p).  All ``-inf`` rows stay all ``-inf``.
    """
    top_k, top_p = _check_top_k(top_k), _check_top_p(top_p)
    out = log_normalize(real_array(log_probs, "log_probs"))
    width = out.shape[-1]
    if top_k is not None and top_k < width:
        kth = -np.sort(-out, axis=-1)[..., top_k - 1 : top_k]
        out = log_normalize(np.where(out >= kth, out, -np.inf))
    if top_p is not None and top_p < 1.0:
        order = np.argsort(-out, axis=-1, kind="stable")
        ranked = np.take_along_axis(np.exp(out), order, axis=-1)
        before = np.cumsum(ranked, axis=-1) - ranked  # mass of the tokens ranked before each token
        keep = np.zeros(out.shape, dtype=bool)
        np.put_along_axis(keep, order, before < top_p, axis=-1)
        out = log_normalize(np.where(keep, out, -np.inf))
    return out


def truncated_proposal(
    model: AutoregressiveModel, beta: float, top_k: int | None = None, top_p: float | None = None
) -> tuple[np.ndarray, ...]:
    """Per-step tables of the temperature-``1/β`` proposal truncated to its top-k and/or top-p tokens.

    ``q(y_t | y_<t) ∝ π(y_t | y_<t)^β`` (Eq. 5 with exponent ``β``), then
    :func:`truncate_log_probs` at every prefix: what ``generate(do_sample=True,
    temperature=1/β, top_k=..., top_p=...)`` samples from.  Entry ``t-1`` has shape
    ``V_1..V_t``; rows under prefixes of probability 0 are all ``-inf``; on an EOS model
    the rows after EOS are the point mass on EOS.  Pass the result as ``proposal`` to
    :func:`sir_output_distribution` or :func:`power_smc`.  Where the
    truncation drops tokens, ``q`` misses part of ``π_α``'s support and those samplers no
    longer target ``π_α``.
    """
    beta = check_alpha(beta, "beta")
    top_k, top_p = _check_top_k(top_k), _check_top_p(top_p)
    conditionals = conditional_tables(prefix_marginal_tables(model))
    return _absorbing(model, [truncate_log_probs(beta * table, top_k, top_p) for table in conditionals])


def _proposal_beta(alpha: float, proposal: Proposal) -> float | None:
    """The exponent of a named base/temperature proposal (sampled through the scorer), else ``None`` (tables)."""
    if isinstance(proposal, str) and proposal == "base":
        return 1.0
    if isinstance(proposal, str) and proposal == "temperature":
        return alpha
    return None


def sis_ess_fraction(model: AutoregressiveModel, alpha: float, proposal: str = "base") -> float:
    """Population ``ESS/N = Z_α² / Σ_y π(y)^{2α}/q(y)`` of the final SIS weights (1 for ``"optimal"``)."""
    alpha = check_alpha(alpha)
    log_q = log_proposal_joint(model, alpha, proposal)
    log_gamma = alpha * np.asarray(model.log_joint())
    keep = np.isfinite(log_q) & np.isfinite(log_gamma)
    log_ess = 2 * logsumexp(log_gamma[keep], axis=None) - logsumexp(2 * log_gamma[keep] - log_q[keep], axis=None)
    return float(min(np.exp(log_ess), 1.0))


def _sampling_and_weight_logs(
    model: AutoregressiveModel, alpha: float, proposal: Proposal, weight_proposal: Proposal | None
) -> tuple[np.ndarray, np.ndarray]:
    """Flat ``log s(y)`` (the sampling law) and ``log w(y) = α log π(y) - log q(y)`` on ``s``'s support."""
    log_s = np.asarray(log_proposal_joint(model, alpha, proposal)).reshape(-1)
    log_q = log_s if weight_proposal is None else np.asarray(log_proposal_joint(model, alpha, weight_proposal)).reshape(-1)
    log_pi = np.asarray(model.log_joint()).reshape(-1)
    support = np.isfinite(log_s)
    if np.any(~np.isfinite(log_q[support])):
        raise ValueError("the weight proposal is 0 where the proposal samples: those weights γ/q would be infinite")
    if np.any(~np.isfinite(log_pi[support])):
        raise ValueError(
            "the proposal samples sequences with π(y) = 0 (weight 0): with probability > 0 all N weights vanish "
            "and SIR's output is undefined; use a proposal within π's support"
        )
    log_w = np.full(log_s.shape, -np.inf)
    log_w[support] = alpha * log_pi[support] - log_q[support]
    return log_s, log_w


def sir_output_distribution(
    model: AutoregressiveModel,
    alpha: float,
    n_particles: int,
    proposal: Proposal = "base",
    weight_proposal: Proposal | None = None,
) -> SamplerDistribution:
    """Exact output law of SIR with ``N`` particles (module docstring formula), shape ``vocab_sizes``.

    ``y_1..y_N ~ s`` i.i.d. (``s`` = ``proposal``, any form of :func:`proposal_log_conditionals`),
    output ``y_I`` with ``P(I = i) ∝ w(y_i) = π(y_i)^α / q(y_i)`` (``q`` = ``weight_proposal``,
    default ``s``):

        ``P(y) = N s(y) w(y) ∫_0^∞ e^{-u w(y)} φ(u)^{N-1} du``,  ``φ(u) = E_s[e^{-u w}]``,

    ``0`` off ``s``'s support.  With a truncated proposal (top-k/top-p) this is SIR's
    actual output law, not ``π_α``.  ``ValueError`` if ``s`` samples a sequence with
    ``π(y) = 0`` (all weights may vanish) or where ``q = 0``.  ``expected_cost`` is
    ``N E_s[|y|]`` token evaluations (``N·T`` without EOS).
    """
    alpha = check_alpha(alpha)
    N = check_count(n_particles, "n_particles")
    log_s, log_w = _sampling_and_weight_logs(model, alpha, proposal, weight_proposal)
    keep = np.isfinite(log_s)
    lq, lw = log_s[keep], log_w[keep]
    lw = lw - logsumexp(lq + lw)  # E_s[w] = 1: the integrand lives on u ~ 1
    # the integrand decays at least like exp(-u (w(y) + (N-1) min w)): the nodes reach u = 60 / (N min w)
    nodes = laplace_log_nodes(float(np.min(lw) + np.log(N)))
    out = np.zeros(log_s.shape)
    out[keep] = np.exp(np.log(N) + lq + lw + _sir_log_integral(lq, lw, N, nodes))
    out = np.clip(out, 0.0, None)
    out /= out.sum()
    sizes = tuple(model.vocab_sizes)
    lengths = _table_lengths(model)
    cost = float(N * np.exp(lq) @ lengths[keep]) if lengths is not None else float(N * model.horizon)
    return SamplerDistribution(out.reshape(sizes), np.zeros(sizes), cost, True)


def _sir_log_integral(lq: np.ndarray, lw: np.ndarray, N: int, nodes: np.ndarray) -> np.ndarray:
    """``log ∫_0^∞ e^{-u w(y)} φ(u)^{N-1} du`` for every ``y`` (``φ(u) = Σ_z s(z) e^{-u w(z)}``), in log space.

    Trapezoid rule in ``t = log u`` (:func:`~exact.samplers.laplace_log_nodes`).  Everything stays in
    logs because at a huge ``α`` the smallest weights ``w`` are below float64's range (``e^{-745}``) and
    the nodes ``u`` above it, yet those weights decide the output whenever no particle draws a heavy
    sequence.  The nodes are taken in blocks so that memory stays ``O(2^22)`` however many there are.
    """
    out = np.full(lw.shape, -np.inf)
    block = max(1, 2**22 // lw.size)
    with np.errstate(over="ignore"):  # u·w(z) = inf past float64: e^{-u w} = 0, as it should
        for start in range(0, nodes.size, block):
            t = nodes[start:start + block, None]
            rate = np.exp(t + lw[None, :])  # u·w(z), (points, sequences)
            log_phi = logsumexp(lq[None, :] - rate, axis=1)[:, None]  # finite: u·min w ≤ 60 on these nodes
            terms = t + np.log(LAPLACE_STEP) - rate + (N - 1) * log_phi
            out = np.logaddexp(out, logsumexp(terms, axis=0))
    return out


def _table_lengths(model: AutoregressiveModel) -> np.ndarray | None:
    """``|y|`` of every padded sequence in C order (``None`` without EOS: every length is ``T``)."""
    eos = getattr(model, "eos_token_id", None)
    if eos is None:
        return None
    sizes = tuple(model.vocab_sizes)
    grid = np.indices(sizes).reshape(len(sizes), -1).T
    return completion_lengths(grid, eos).astype(np.float64)


class SMCRuns(NamedTuple):
    """``R`` independent runs of an ``N``-particle sequential Monte Carlo sampler."""

    particles: np.ndarray
    """``(R, N, T)`` final particles."""
    log_weights: np.ndarray
    """``(R, N)`` final log weights, normalised within each run (``Σ_i W^i = 1``)."""
    log_evidence: np.ndarray
    """``(R,)`` estimates ``log Ẑ`` of ``log Z_α``."""
    n_resampling: np.ndarray
    """``(R,)`` how many times each run resampled."""
    token_evaluations: int
    """Model token evaluations over all runs: one per unfinished particle and step (``R·N·T`` without EOS)."""


def power_smc(
    model: AutoregressiveModel,
    alpha: float,
    n_particles: int,
    n_runs: int,
    rng: np.random.Generator,
    ess_threshold: float = 0.5,
    ramp: bool = False,
    proposal: Proposal = "temperature",
    weight_proposal: Proposal | None = None,
) -> SMCRuns:
    """Run Power-SMC ``n_runs`` times (batched) (module docstring): the vectorised law-estimator of ``exact``.

    Power-SMC has no closed-form output law, so ``exact`` keeps this one simulation: all
    ``R·N`` particles advance as one numpy batch (the ``samplers`` figure runs ~2^18
    particles per ``N``, far too many for the one sampler implementation,
    ``llm.sample_power_smc``, one run at a time on ``llm.ToyModel``).  Its numerics are the
    shared ones of :mod:`exact._numerics` (``inverse_cdf`` for the proposal draws,
    ``effective_sample_size`` for the trigger, ``systematic_resample`` for the ancestors),
    i.e. the code ``llm.sample_power_smc`` runs; tests/llm check that the two agree in law.
    One output per run (SIR is ``ess_threshold = 0``): draw particle ``i`` with probability
    ``W^i``, e.g. ``particles[r, inverse_cdf(log_weights, u)]``.

    Named ``"base"``/``"temperature"`` proposals go through ``next_token_logprobs`` only (so
    any model works, e.g. a long :class:`~exact.MarkovAR`); any other proposal (``"optimal"``,
    log-prob tables, a ``weight_proposal``) is resolved to per-step tables
    (:func:`proposal_log_conditionals`, dense models).  Particles draw from ``proposal``
    and gain ``α_t log π(y_{1:t}) - α_{t-1} log π(y_{<t}) - log q(y_t | y_<t)`` with ``q`` =
    ``weight_proposal`` (default: the proposal).  Under EOS a finished particle gains 0
    (``ramp=False``) and a run whose particles have all finished never resamples again,
    as in ``llm.sample_power_smc``.
    """
    alpha = check_alpha(alpha)
    N = check_count(n_particles, "n_particles")
    R = check_count(n_runs, "n_runs")
    rng = check_rng(rng)
    ess_threshold = check_unit_interval(ess_threshold, "ess_threshold", include_zero=True)
    beta = _proposal_beta(alpha, proposal) if weight_proposal is None else None
    sampling_tables = weight_tables = None
    if beta is None:
        sampling_tables = proposal_log_conditionals(model, alpha, proposal)
        weight_tables = sampling_tables if weight_proposal is None else proposal_log_conditionals(model, alpha, weight_proposal)
    lm = scorer(model)
    T = model.horizon
    eos = getattr(model, "eos_token_id", None)
    particles = np.zeros((R, N, T), dtype=np.int64)
    log_pi = np.zeros((R, N))  # log π(y_{1:t})
    log_w = np.zeros((R, N))
    log_z = np.zeros(R)
    n_resampling = np.zeros(R, dtype=np.int64)
    finished = np.zeros((R, N), dtype=bool)  # the particle has drawn EOS
    evaluations = 0
    previous_exponent = alpha
    for t in range(T):
        exponent = 1.0 + (alpha - 1.0) * (t + 1) / T if ramp else alpha
        context = particles[:, :, :t].reshape(R * N, t)
        logits = lm.next_token_logprobs(context)
        rows = np.arange(R * N)
        if sampling_tables is None:
            log_q = log_normalize(beta * logits)
            token = inverse_cdf(log_q, rng.random(R * N))
            log_q_token = log_q[rows, token]
        else:
            log_s = _rows(sampling_tables[t], context)
            token = inverse_cdf(log_s, rng.random(R * N))
            log_q_token = _rows(weight_tables[t], context)[rows, token]
        evaluations += int((~finished).sum())
        particles[:, :, t] = token.reshape(R, N)
        new_log_pi = log_pi + logits[rows, token].reshape(R, N)
        log_inc = exponent * new_log_pi - (previous_exponent * log_pi if t else 0.0) - log_q_token.reshape(R, N)
        log_z += logsumexp(log_w + log_inc, axis=1) - logsumexp(log_w, axis=1)
        log_w = log_w + log_inc
        log_pi, previous_exponent = new_log_pi, exponent
        if eos is not None:
            finished |= particles[:, :, t] == eos
        if t < T - 1 and ess_threshold > 0:
            low = effective_sample_size(log_w, axis=1) / N < ess_threshold
            if eos is not None:
                low &= ~finished.all(axis=1)  # llm stops decoding (and resampling) once every particle finished
            low = np.flatnonzero(low)
            if low.size:
                ancestors = systematic_resample(log_w[low], rng.random(low.size))
                particles[low] = np.take_along_axis(particles[low], ancestors[:, :, None], axis=1)
                log_pi[low] = np.take_along_axis(log_pi[low], ancestors, axis=1)
                finished[low] = np.take_along_axis(finished[low], ancestors, axis=1)
                log_w[low] = 0.0
                n_resampling[low] += 1
    return SMCRuns(particles, log_normalize(log_w, axis=1), log_z, n_resampling, evaluations)


def _rows(table: np.ndarray, context: np.ndarray) -> np.ndarray:
    """The rows ``table[y_{1:t}]`` of a per-step table for a batch ``(n, t)`` of prefixes -> ``(n, V_{t+1})``."""
    if context.shape[1] == 0:
        return np.broadcast_to(table, (context.shape[0],) + table.shape)
    return table[tuple(context.T)]


def smc_output_distribution(runs: SMCRuns, vocab_sizes: tuple[int, ...]) -> SamplerDistribution:
    """Monte Carlo output law ``mean_r Σ_i W_r^i δ_{y_r^i}`` with standard errors across the ``R`` runs.

    Memory ``O(R·N)`` (per-run cell sums are aggregated sparsely), so ``R = 10^6`` runs fit.
    """
    R, N, T = runs.particles.shape
    n_cells = int(np.prod(vocab_sizes))
    flat = np.ravel_multi_index(tuple(runs.particles.reshape(R * N, T).T), vocab_sizes)
    keys = np.repeat(np.arange(R, dtype=np.int64), N) * n_cells + flat  # (run, cell) pairs
    pairs, inverse = np.unique(keys, return_inverse=True)
    per_pair = np.bincount(inverse.reshape(-1), weights=np.exp(runs.log_weights).reshape(-1))  # Σ_i W_r^i per (r, y)
    cells = pairs % n_cells
    mean = np.bincount(cells, weights=per_pair, minlength=n_cells) / R
    if R > 1:
        second = np.bincount(cells, weights=per_pair**2, minlength=n_cells) / R
        se = np.sqrt(np.clip(second - mean**2, 0.0, None) * R / (R - 1)) / np.sqrt(R)
    else:
        se = np.full(n_cells, np.inf)
    return SamplerDistribution(mean.reshape(vocab_sizes), se.reshape(vocab_sizes), runs.token_evaluations / R, False)


def power_smc_output_distribution(
    model: AutoregressiveModel,
    alpha: float,
    n_particles: int,
    n_runs: int,
    rng: np.random.Generator,
    ess_threshold: float = 0.5,
    ramp: bool = False,
    proposal: Proposal = "temperature",
    weight_proposal: Proposal | None = None,
) -> SamplerDistribution:
    """Power-SMC's output distribution by Monte Carlo over ``n_runs`` runs (standard errors included).

    Rao-Blackwellised (module docstring): entry ``y`` is ``mean_r Σ_i W_r^i 1{y_r^i = y}``, an
    unbiased estimate of ``P(output = y)`` whose standard error across runs is returned.
    """
    runs = power_smc(model, alpha, n_particles, n_runs, rng, ess_threshold, ramp, proposal, weight_proposal)
    return smc_output_distribution(runs, tuple(model.vocab_sizes))


__all__ = [
    "SMC_PROPOSALS",
    "PROPOSAL_TOL",
    "Proposal",
    "SMCRuns",
    "log_proposal_joint",
    "proposal_log_conditionals",
    "truncate_log_probs",
    "truncated_proposal",
    "sis_ess_fraction",
    "sir_output_distribution",
    "power_smc",
    "smc_output_distribution",
    "power_smc_output_distribution",
]
