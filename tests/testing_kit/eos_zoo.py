"""The EOS zoo: power samplers written the way public code writes them, and the bugs found in that code.

Every real completion ends at its first EOS (included) or after ``T`` tokens.
The samplers here are vectorised numpy re-writes of three published
algorithms, each with the bugs an audit of public implementations found; each
sampler is ``sampler(model, n, rng) -> list of n completions`` (variable-length
token lists, as real samplers return them), and the check pads them with
``exact.pad_completions``, which refuses a completion cut short without EOS.

* :func:`mh_sampler` -- block MH power sampling (Algorithm 2 of arXiv 2605.04542, one block,
  ``B = T``; arXiv 2510.14901): initialise with the proposal ``q ∝ π^α`` token by token,
  then ``N_MCMC`` times draw ``m ~ U{1..|y|}``, resample ``y'_{m:}`` from ``q`` until EOS or the
  block end, and accept with
  ``log A = α[log π(y') - log π(y)] + log q(y_{m:}) - log q(y'_{m:}) + log|y| - log|y'|``.
  Variants: ``no_hastings`` (the ``|y|/|y'|`` factor missing: stationary law ``∝ |y| π(y)^α``),
  ``capped`` (proposals capped at the current length instead of the block end), ``dropped_tail``
  (the current state's tokens beyond the proposal's length left out of the ratio),
  ``tempered_as_base`` (the target ratio computed from the proposal's tempered log-probs).
* :func:`smc_sampler` -- Power-SMC (``N`` particles, proposal ``q ∝ π^α``, weights
  ``α log π - log q``, systematic resampling at ESS < N/2; the output is one particle drawn
  by its final weight).  Variants: ``nucleus`` (proposal sampled with ``top_p = 0.9``,
  weights still computed with the untruncated ``q``: part of ``π_α``'s support is never
  proposed), ``unseeded`` (a fresh unseeded generator: correct in law, not reproducible).
* :func:`scalable_sampler` -- token-level power sampling with Monte Carlo lookahead
  (arXiv 2601.21590, no jackknife): ``p̂(a) ∝ π(a)^α (1/M) Σ_r π(z_a^{(r)})^{α-1}``, rollouts
  ``z`` from the base model until EOS or ``T``.  Variant ``mean_weights``: the rollout weight
  ``exp((α-1) · mean_t log π(z_t))`` (per-token mean instead of sum), a different target that
  more rollouts do not fix.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, NamedTuple

import numpy as np

import exact
from exact.samplers import TableScorer

#: The documented check: n = 1000 completions, alpha_level = 0.01, each family on a toy and at
#: an α where its bugs matter (:func:`documented_check`).
N_DRAWS = 1000
ALPHA_LEVEL = 0.01
#: MH steps (one block), Power-SMC particles, scalable rollouts per candidate.
N_MCMC = 30
N_PARTICLES = 32
N_ROLLOUTS = 4
TOP_P = 0.9

MH_VARIANTS = ("correct", "no_hastings", "capped", "dropped_tail", "tempered_as_base")
SMC_VARIANTS = ("correct", "nucleus", "unseeded")
SCALABLE_VARIANTS = ("correct", "mean_weights")
FAMILY_ALPHA = {"mh": 4.0, "smc": 2.0, "scalable": 2.0}


def eos_toy(seed: int = 5) -> exact.TabularAR:
    """``V = 4`` tokens (EOS = 3), ``T = 3``.

    ``seed = 5`` (Dirichlet(0.6) conditionals: some flat, some peaked): 28% of ``π``'s mass
    and 59% of ``π_4``'s end at EOS before ``T``; chosen among 36 random toys because the
    dropped-tail bug, which needs normalisers ``Σ_v π(v|·)^α`` that differ a lot between
    prefixes, matters on it.  ``seed = 7`` (Dirichlet(1)): 26% of ``π`` ends early; the
    per-token-mean rollout weight matters on it at α = 2 (and not on the first).
    """
    concentration = 0.6 if seed == 5 else 1.0
    return exact.TabularAR.random(4, 3, seed=seed, eos_token_id=3, concentration=concentration)


class DocumentedCheck(NamedTuple):
    """Where a family's bugs are checked: the toy, the exponent and the law a correct sampler draws."""

    toy: exact.TabularAR
    alpha: float
    target: np.ndarray
    """MH (30 steps: its exact law is within n·χ² = 0.006 of ``π_α``) and Power-SMC (32
    particles): ``π_α``; scalable: its exact law ``exact.scalable_output_distribution``."""


@lru_cache(maxsize=None)  # the scalable target is an exact law: computed once, not once per seed
def documented_check(family: str) -> DocumentedCheck:
    """The toy, α and target of the documented check of ``family`` (``mh``, ``smc``, ``scalable``)."""
    alpha = FAMILY_ALPHA[family]
    if family == "scalable":
        toy = eos_toy(7)
        target = exact.scalable_output_distribution(toy, alpha, toy.vocab_size, N_ROLLOUTS, False).probabilities
        return DocumentedCheck(toy, alpha, target)
    toy = eos_toy(5)
    return DocumentedCheck(toy, alpha, exact.power_joint(toy, alpha))


# -- shared pieces ------------------------------------------------------------------------------
def _draw(log_q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One token per row of normalised log-probs ``(n, V)`` by inverse CDF."""
    cdf = np.cumsum(np.exp(log_q), axis=1)
    u = rng.random(len(log_q)) * cdf[:, -1]
    return np.minimum((cdf <= u[:, None]).sum(axis=1), log_q.shape[1] - 1)


def _nucleus(log_q: np.ndarray, top_p: float) -> np.ndarray:
    """Keep the smallest set of most probable tokens whose mass reaches ``top_p`` (renormalised)."""
    order = np.argsort(-log_q, axis=1, kind="stable")
    sorted_p = np.take_along_axis(np.exp(log_q), order, axis=1)
    before = np.cumsum(sorted_p, axis=1) - sorted_p  # mass strictly before each token
    keep_sorted = before < top_p
    keep = np.zeros_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=1)
    return exact.log_normalize(np.where(keep, log_q, -np.inf))


def _completions(seqs: np.ndarray, lengths: np.ndarray) -> list[list[int]]:
    return [row[:k].tolist() for row, k in zip(seqs, lengths)]


class _Chains:
    """``n`` completions as padded arrays: tokens, lengths, per-position ``log π`` and ``log q``."""

    def __init__(self, n: int, horizon: int):
        self.tokens = np.zeros((n, horizon), dtype=np.int64)
        self.lengths = np.zeros(n, dtype=np.int64)
        self.log_pi = np.zeros((n, horizon))
        self.log_q = np.zeros((n, horizon))

    def copy(self) -> "_Chains":
        new = _Chains.__new__(_Chains)
        new.tokens, new.lengths = self.tokens.copy(), self.lengths.copy()
        new.log_pi, new.log_q = self.log_pi.copy(), self.log_q.copy()
        return new

    def take(self, rows: np.ndarray, other: "_Chains") -> None:
        self.tokens[rows], self.lengths[rows] = other.tokens[rows], other.lengths[rows]
        self.log_pi[rows], self.log_q[rows] = other.log_pi[rows], other.log_q[rows]


def _regenerate(scorer, eos: int, chains: _Chains, start: np.ndarray, cap: np.ndarray, alpha: float, rng) -> _Chains:
    """Copy of ``chains`` with positions ``≥ start`` (0-based, per row) redrawn from ``q ∝ π^α``
    until EOS or ``cap`` tokens (a row cut at ``cap`` without EOS keeps length ``cap``)."""
    out = chains.copy()
    horizon = out.tokens.shape[1]
    positions = np.arange(horizon)[None, :]
    redrawn = positions >= start[:, None]
    out.log_pi[redrawn], out.log_q[redrawn] = 0.0, 0.0
    out.lengths = np.minimum(cap, horizon).astype(np.int64)
    alive = np.ones(len(start), dtype=bool)
    for t in range(horizon):
        rows = np.flatnonzero(alive & (t >= start) & (t < cap))
        if rows.size:
            logits = scorer.next_token_logprobs(out.tokens[rows, :t])
            log_q = exact.log_normalize(alpha * logits)
            token = _draw(log_q, rng)
            out.tokens[rows, t] = token
            out.log_pi[rows, t] = logits[np.arange(rows.size), token]
            out.log_q[rows, t] = log_q[np.arange(rows.size), token]
            ended = rows[token == eos]
            alive[ended] = False
            out.lengths[ended] = t + 1
    out.tokens[positions >= out.lengths[:, None]] = eos  # padding (display only)
    return out


# -- MH -------------------------------------------------------------------------------------------
def mh_sampler(variant: str = "correct", alpha: float = FAMILY_ALPHA["mh"], n_mcmc: int = N_MCMC) -> Callable:
    """Algorithm 2 with one block under EOS, and the bugs of :data:`MH_VARIANTS` (module docstring)."""
    if variant not in MH_VARIANTS:
        raise ValueError(f"variant must be one of {MH_VARIANTS}, got {variant!r}")

    def sampler(model, n: int, rng: np.random.Generator) -> list[list[int]]:
        scorer, eos, horizon = TableScorer(model), model.eos_token_id, model.horizon
        block_end = np.full(n, horizon)
        chains = _regenerate(scorer, eos, _Chains(n, horizon), np.zeros(n, dtype=np.int64), block_end, alpha, rng)
        positions = np.arange(horizon)[None, :]
        for _ in range(n_mcmc):
            start = rng.integers(0, chains.lengths)  # m - 1, m ~ U{1..|y|}
            cap = chains.lengths if variant == "capped" else block_end
            proposal = _regenerate(scorer, eos, chains, start, cap, alpha, rng)
            resampled = positions >= start[:, None]
            current = resampled
            if variant == "dropped_tail":
                current = resampled & (positions < proposal.lengths[:, None])
            if variant == "tempered_as_base":
                target = (proposal.log_q * resampled).sum(1) - (chains.log_q * current).sum(1)
            else:
                target = (proposal.log_pi * resampled).sum(1) - (chains.log_pi * current).sum(1)
            log_ratio = alpha * target + (chains.log_q * current).sum(1) - (proposal.log_q * resampled).sum(1)
            if variant != "no_hastings":
                log_ratio += np.log(chains.lengths) - np.log(proposal.lengths)
            accept = np.log(rng.random(n)) < log_ratio
            chains.take(np.flatnonzero(accept), proposal)
        return _completions(chains.tokens, chains.lengths)

    sampler.__name__ = f"mh_{variant}"
    return sampler


# -- Power-SMC ------------------------------------------------------------------------------------
def _systematic(log_w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ancestors ``(runs, N)`` by systematic resampling within each run."""
    runs, N = log_w.shape
    W = np.exp(exact.log_normalize(log_w, axis=1))
    cumulative = np.cumsum(W, axis=1)
    cumulative[:, -1] = 1.0
    u = (np.arange(N)[None, :] + rng.random((runs, 1))) / N
    return np.stack([np.searchsorted(c, row, side="right") for c, row in zip(cumulative, u)]).clip(max=N - 1)


def smc_sampler(variant: str = "correct", alpha: float = FAMILY_ALPHA["smc"], n_particles: int = N_PARTICLES) -> Callable:
    """``n`` independent Power-SMC runs; each returns one particle drawn by its final weight."""
    if variant not in SMC_VARIANTS:
        raise ValueError(f"variant must be one of {SMC_VARIANTS}, got {variant!r}")

    def sampler(model, n: int, rng: np.random.Generator) -> list[list[int]]:
        if variant == "unseeded":
            rng = np.random.default_rng()  # the bug: the caller's seed is never used
        scorer, eos, horizon, N = TableScorer(model), model.eos_token_id, model.horizon, n_particles
        tokens = np.full((n, N, horizon), eos, dtype=np.int64)
        lengths = np.full((n, N), horizon, dtype=np.int64)
        done = np.zeros((n, N), dtype=bool)
        log_w = np.zeros((n, N))
        for t in range(horizon):
            flat = tokens.reshape(n * N, horizon)[:, :t]
            logits = scorer.next_token_logprobs(flat)
            believed = exact.log_normalize(alpha * logits)
            sampled = _nucleus(believed, TOP_P) if variant == "nucleus" else believed
            token = _draw(sampled, rng).reshape(n, N)
            rows = np.arange(n * N)
            increment = (alpha * logits[rows, token.reshape(-1)] - believed[rows, token.reshape(-1)]).reshape(n, N)
            tokens[:, :, t] = np.where(done, eos, token)
            log_w += np.where(done, 0.0, increment)
            newly = ~done & (token == eos)
            lengths[newly] = t + 1
            done |= newly
            ess = np.exp(2 * exact.logsumexp(log_w, axis=1) - exact.logsumexp(2 * log_w, axis=1))
            resample = (ess < N / 2) & (t < horizon - 1)
            if resample.any():
                idx = np.flatnonzero(resample)
                ancestors = _systematic(log_w[idx], rng)
                tokens[idx] = np.take_along_axis(tokens[idx], ancestors[:, :, None], axis=1)
                lengths[idx] = np.take_along_axis(lengths[idx], ancestors, axis=1)
                done[idx] = np.take_along_axis(done[idx], ancestors, axis=1)
                log_w[idx] = 0.0
        pick = _draw(exact.log_normalize(log_w, axis=1), rng)
        rows = np.arange(n)
        return _completions(tokens[rows, pick], lengths[rows, pick])

    sampler.__name__ = f"smc_{variant}"
    return sampler


# -- scalable power sampling ------------------------------------------------------------------------
def scalable_sampler(variant: str = "correct", alpha: float = FAMILY_ALPHA["scalable"], n_rollouts: int = N_ROLLOUTS) -> Callable:
    """Token-level power sampling with ``M`` base-model rollouts per candidate (all tokens are candidates)."""
    if variant not in SCALABLE_VARIANTS:
        raise ValueError(f"variant must be one of {SCALABLE_VARIANTS}, got {variant!r}")

    def sampler(model, n: int, rng: np.random.Generator) -> list[list[int]]:
        scorer, eos, horizon, M = TableScorer(model), model.eos_token_id, model.horizon, n_rollouts
        y = np.full((n, horizon), eos, dtype=np.int64)
        lengths = np.full(n, horizon, dtype=np.int64)
        alive = np.ones(n, dtype=bool)
        for t in range(horizon):
            rows = np.flatnonzero(alive)
            if rows.size == 0:
                break
            logits = scorer.next_token_logprobs(y[rows, :t])  # (r, V)
            V = logits.shape[1]
            # rollouts after each candidate a: (r, V, M) sequences continuing y_{<t} a
            roll = np.repeat(np.repeat(y[rows][:, None, None, :], V, 1), M, 2)
            roll[:, :, :, t] = np.arange(V)[None, :, None]
            finished = roll[:, :, :, t] == eos
            total = np.zeros(roll.shape[:3])
            count = np.zeros(roll.shape[:3])
            for s in range(t + 1, horizon):
                flat = roll.reshape(-1, horizon)[:, :s]
                lp = scorer.next_token_logprobs(flat)
                token = _draw(exact.log_normalize(lp), rng)
                token = np.where(finished.reshape(-1), eos, token)
                step = np.where(finished.reshape(-1), 0.0, lp[np.arange(len(token)), token])
                roll.reshape(-1, horizon)[:, s] = token
                total += step.reshape(total.shape)
                count += (~finished).astype(float)
                finished |= roll[:, :, :, s] == eos
            if variant == "mean_weights":
                total = np.where(count > 0, total / np.maximum(count, 1), 0.0)
            with np.errstate(invalid="ignore"):
                log_zeta = exact.logsumexp((alpha - 1.0) * total, axis=2) - np.log(M)
                log_p = exact.log_normalize(np.where(np.isfinite(logits), alpha * logits + log_zeta, -np.inf))
            token = _draw(log_p, rng)
            y[rows, t] = token
            ended = rows[token == eos]
            lengths[ended] = t + 1
            alive[ended] = False
        return _completions(y, lengths)

    sampler.__name__ = f"scalable_{variant}"
    return sampler


def zoo() -> dict[str, Callable]:
    """Every sampler of the EOS zoo by name (``family_variant``), at its family's documented α."""
    out = {f"mh_{v}": mh_sampler(v) for v in MH_VARIANTS}
    out |= {f"smc_{v}": smc_sampler(v) for v in SMC_VARIANTS}
    out |= {f"scalable_{v}": scalable_sampler(v) for v in SCALABLE_VARIANTS}
    return out


# -- exact laws by brute force (an independent route to exact.mh_output_distribution) ------------------
def completions_of(model) -> list[tuple[int, ...]]:
    """Every completion of positive probability (variable length, ending at EOS or at ``T``)."""
    joint = model.joint()
    padded = [y for y in np.ndindex(*model.vocab_sizes) if joint[y] > 0]
    return sorted(set(exact.trim_completions(np.array(padded), model.eos_token_id)))


def _log_prob_steps(model, y: tuple[int, ...], alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-token ``log π(y_t | y_<t)`` and ``log q(y_t | y_<t)`` with ``q ∝ π^α``."""
    log_pi = np.array([model.log_conditional(y[:t])[y[t]] for t in range(len(y))])
    log_q = np.array([exact.log_normalize(alpha * model.log_conditional(y[:t]))[y[t]] for t in range(len(y))])
    return log_pi, log_q


class MHKernel(NamedTuple):
    """One MH step of :func:`mh_sampler` over the completions of a model, by enumeration."""

    states: list[tuple[int, ...]]
    """Every completion of positive probability (the chain's state space)."""
    initial: np.ndarray
    """``q(y)``: the law of the initial state, drawn from the proposal."""
    kernel: np.ndarray
    """``K[y, z] = Σ_{m ≤ |y|} (1/|y|) q(z_{m:} | y_{<m}) min(1, A_m(y, z))`` off the diagonal."""


def mh_kernel(model, variant: str = "correct", alpha: float = FAMILY_ALPHA["mh"]) -> MHKernel:
    """The transition matrix of :func:`mh_sampler` (not ``capped``, whose states leave the model)."""
    if variant == "capped":
        raise ValueError("the capped sampler's states are not completions of the model; it has no kernel here")
    states = completions_of(model)
    index = {y: i for i, y in enumerate(states)}
    steps = {y: _log_prob_steps(model, y, alpha) for y in states}
    K = np.zeros((len(states), len(states)))
    for y in states:
        pi_y, q_y = steps[y]
        for m in range(len(y)):  # 0-based start of the resampled suffix
            for z in states:
                if z[:m] != y[:m]:
                    continue
                pi_z, q_z = steps[z]
                current = slice(m, min(len(y), len(z))) if variant == "dropped_tail" else slice(m, len(y))
                base_z, base_y = (q_z, q_y) if variant == "tempered_as_base" else (pi_z, pi_y)
                log_ratio = alpha * (base_z[m:].sum() - base_y[current].sum()) + q_y[current].sum() - q_z[m:].sum()
                if variant != "no_hastings":
                    log_ratio += np.log(len(y)) - np.log(len(z))
                K[index[y], index[z]] += np.exp(q_z[m:].sum()) * min(1.0, np.exp(log_ratio)) / len(y)
        K[index[y], index[y]] += 1.0 - K[index[y]].sum()
    initial = np.array([np.exp(steps[y][1].sum()) for y in states])
    return MHKernel(states, initial, K)


def as_padded_table(model, states: list[tuple[int, ...]], probabilities: np.ndarray) -> np.ndarray:
    """Probabilities over completions as the dense padded table (shape ``vocab_sizes``)."""
    out = np.zeros(model.vocab_sizes)
    out[tuple(exact.pad_completions(states, model.horizon, model.eos_token_id).T)] = probabilities
    return out


def mh_law(model, variant: str = "correct", alpha: float = FAMILY_ALPHA["mh"], n_mcmc: int = N_MCMC) -> np.ndarray:
    """Exact output law of :func:`mh_sampler`: ``initial @ K^n_mcmc`` (:func:`mh_kernel`), padded table."""
    states, initial, K = mh_kernel(model, variant, alpha)
    return as_padded_table(model, states, initial @ np.linalg.matrix_power(K, n_mcmc))

