"""A deliberately-broken-sampler zoo: one readable MH power sampler and its bugs.

The sampler is Algorithm 2 of the main paper with one block (``B = T``):

1. initialise ``y ~ q``, the base model at temperature ``1/α`` token by token
   (``q(s | y_<t) ∝ π(s | y_<t)^α``, Eq. 5);
2. repeat ``n_mcmc`` times: pick ``m`` uniformly in ``{1..T}``, keep ``y_<m``,
   resample ``y'_{m:T}`` from ``q``, and accept with (Eq. 20)

       A = min(1, π(y')^α / π(y)^α · q(y_{m:T} | y_<m) / q(y'_{m:T} | y_<m)).

Variants (each a real bug seen in re-implementations):

* ``correct``    -- the above;
* ``flipped``    -- the proposal correction's sign flipped: ``q(y')/q(y)``;
* ``dropped``    -- the proposal correction dropped (treats ``q`` as symmetric);
* ``top_k``      -- proposals silently drawn from the top-``k`` tokens of ``q``
  while the acceptance still uses the untruncated ``q`` (an inference server's
  default ``top_k``);
* :func:`temperature_sampler` -- plain per-token temperature ``1/α`` sampling (Eq. 5).

Everything is vectorised over the ``n`` chains; the model is used only through
the shared interface (``next_token_logprobs``, ``log_prob``, ``horizon``).
:func:`mh_transition_matrix` builds the exact transition kernel of each variant
over all sequences by brute force (``itertools.product`` over the dense joint), so
the output law after ``n_mcmc`` steps is ``init @ K^n_mcmc`` exactly.
"""

from __future__ import annotations

import itertools
from typing import Callable

import numpy as np

VARIANTS = ("correct", "flipped", "dropped", "top_k")

#: The suffix-entropy toy: first token a (rare, 0.2) has a nearly deterministic suffix,
#: b (0.35) and c (0.45) have flat ones.  Power sampling favours a (π_α(a·) = 0.23 at α = 2,
#: Prop. 1); temperature sampling and a top-2 proposal (which never proposes a) do not.
SUFFIX_ENTROPY_JOINT = np.array([[0.18, 0.01, 0.01], [0.12, 0.12, 0.11], [0.15, 0.15, 0.15]])

#: The documented check: α = 2, N_MCMC = 20 steps (exact MCMC error n·χ²(law ‖ π_α) ≈ 2e-3,
#: far below the test's resolution), n = 1000 draws, alpha_level = 0.01, top-k = 2.
ALPHA = 2.0
N_MCMC = 20
N_DRAWS = 1000
ALPHA_LEVEL = 0.01
TOP_K = 2


def suffix_entropy_toy():
    """The :data:`SUFFIX_ENTROPY_JOINT` model as an ``exact.TabularAR``."""
    import exact

    return exact.TabularAR.from_joint(SUFFIX_ENTROPY_JOINT)


def zoo(alpha: float = ALPHA, n_mcmc: int = N_MCMC, top_k: int = TOP_K) -> dict[str, Callable]:
    """The correct sampler and the four broken ones, by name."""
    samplers = {v: mh_power_sampler(alpha, n_mcmc, v, top_k) for v in VARIANTS}
    samplers["temperature"] = temperature_sampler(alpha)
    return samplers
_CORRECTION_SIGN = {"correct": 1.0, "flipped": -1.0, "dropped": 0.0, "top_k": 1.0}


class InterfaceOnly:
    """A model reduced to the interface the kit promises to need: ``log_conditional``,
    ``next_token_logprobs``, ``log_prob``, ``vocab_sizes``, ``horizon`` (no dense tables)."""

    def __init__(self, model):
        self._model = model
        self.vocab_sizes, self.horizon = tuple(model.vocab_sizes), model.horizon

    def log_conditional(self, prefix):
        return self._model.log_conditional(prefix)

    def next_token_logprobs(self, contexts):
        return self._model.next_token_logprobs(contexts)

    def log_prob(self, sequences):
        return self._model.log_prob(sequences)


# -- the sampler --------------------------------------------------------------
def _next_token_logprobs(model, contexts: np.ndarray) -> np.ndarray:
    """``log π(· | context)`` for ``(n, t)`` contexts, one model call per distinct context."""
    n, t = contexts.shape
    if t == 0:
        row = np.asarray(model.next_token_logprobs(np.zeros((1, 0), dtype=np.int64)))[0]
        return np.broadcast_to(row, (n, row.size))
    unique, inverse = np.unique(contexts, axis=0, return_inverse=True)
    return np.asarray(model.next_token_logprobs(unique))[inverse.reshape(-1)]


def _log_normalize_rows(x: np.ndarray) -> np.ndarray:
    peak = np.max(x, axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        return x - (peak + np.log(np.exp(x - peak).sum(axis=1, keepdims=True)))


def _proposal_rows(model, contexts, alpha, top_k):
    """(log q actually sampled from, log q the sampler believes in), each ``(n, V_t)``."""
    believed = _log_normalize_rows(alpha * _next_token_logprobs(model, contexts))
    if top_k is None or top_k >= believed.shape[1]:
        return believed, believed
    kth = -np.sort(-believed, axis=1)[:, top_k - 1 : top_k]
    return _log_normalize_rows(np.where(believed >= kth, believed, -np.inf)), believed


def _draw(log_q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cdf = np.cumsum(np.exp(log_q), axis=1)
    u = rng.random(len(log_q)) * cdf[:, -1]
    return np.minimum((cdf <= u[:, None]).sum(axis=1), log_q.shape[1] - 1)


def _resample_suffix(model, seqs, start, alpha, top_k, rng):
    """Copy ``seqs`` and redraw positions ``t >= start`` (per row) from ``q``; return it and its
    per-position believed ``log q`` (``(n, T)``)."""
    out = seqs.copy()
    log_q = np.zeros(seqs.shape)
    rows = np.arange(len(seqs))
    for t in range(model.horizon):
        sampled, believed = _proposal_rows(model, out[:, :t], alpha, top_k)
        redraw = start <= t
        out[redraw, t] = _draw(sampled[redraw], rng)
        log_q[:, t] = believed[rows, out[:, t]]
    return out, log_q


def mh_power_sampler(alpha: float, n_mcmc: int, variant: str = "correct", top_k: int = 1) -> Callable:
    """An MH power sampler (Algorithm 2, ``B = T``) as ``sampler(model, n, rng) -> (n, T)``."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    sign = _CORRECTION_SIGN[variant]
    k = top_k if variant == "top_k" else None

    def sampler(model, n: int, rng: np.random.Generator) -> np.ndarray:
        T = model.horizon
        y, log_q_y = _resample_suffix(model, np.zeros((n, T), dtype=np.int64), np.zeros(n), alpha, k, rng)
        log_pi_y = model.log_prob(y)
        positions = np.arange(T)
        for _ in range(n_mcmc):
            m = rng.integers(0, T, size=n)  # 0-based: keep y[:, :m], resample y[:, m:]
            proposal, log_q_prop = _resample_suffix(model, y, m, alpha, k, rng)
            log_pi_prop = model.log_prob(proposal)
            suffix = positions[None, :] >= m[:, None]
            log_q_ratio = (log_q_y * suffix).sum(axis=1) - (log_q_prop * suffix).sum(axis=1)
            log_accept = alpha * (log_pi_prop - log_pi_y) + sign * log_q_ratio
            accept = np.log(rng.random(n)) <= log_accept
            y[accept], log_q_y[accept], log_pi_y[accept] = proposal[accept], log_q_prop[accept], log_pi_prop[accept]
        return y

    sampler.__name__ = f"mh_{variant}"
    return sampler


def temperature_sampler(alpha: float) -> Callable:
    """Per-token temperature ``1/α`` ancestral sampling (Eq. 5) -- not the power distribution."""

    def sampler(model, n: int, rng: np.random.Generator) -> np.ndarray:
        y, _ = _resample_suffix(model, np.zeros((n, model.horizon), dtype=np.int64), np.zeros(n), alpha, None, rng)
        return y

    sampler.__name__ = "temperature"
    return sampler


# -- exact analysis by brute force --------------------------------------------
def _temperature_tables(joint: np.ndarray, alpha: float, top_k: int | None):
    """Per-sequence per-position (sampled, believed) ``q`` probabilities, brute force from the joint."""
    shape = joint.shape
    sampled = np.zeros(shape + (len(shape),))
    believed = np.zeros(shape + (len(shape),))
    for y in itertools.product(*(range(v) for v in shape)):
        for t in range(len(shape)):
            prefix_mass = np.array([joint[y[:t] + (s,)].sum() for s in range(shape[t])])
            if prefix_mass.sum() == 0:
                continue
            q = (prefix_mass / prefix_mass.sum()) ** alpha
            q /= q.sum()
            believed[y + (t,)] = q[y[t]]
            if top_k is not None and top_k < len(q):
                keep = q >= np.sort(q)[::-1][top_k - 1]
                q = np.where(keep, q, 0.0) / q[keep].sum()
            sampled[y + (t,)] = q[y[t]]
    return sampled, believed


def mh_transition_matrix(joint: np.ndarray, alpha: float, variant: str = "correct", top_k: int = 1):
    """``(init, K)``: the initial law and the one-step kernel over all ``|Y|`` sequences (C order)."""
    shape = joint.shape
    T = len(shape)
    sign = _CORRECTION_SIGN[variant]
    sampled, believed = _temperature_tables(joint, alpha, top_k if variant == "top_k" else None)
    seqs = list(itertools.product(*(range(v) for v in shape)))
    index = {y: i for i, y in enumerate(seqs)}
    init = np.array([np.prod(sampled[y]) for y in seqs])
    K = np.zeros((len(seqs), len(seqs)))
    for y in seqs:
        if joint[y] == 0:
            K[index[y], index[y]] = 1.0  # never visited; keep K stochastic
            continue
        for m in range(T):
            for z in seqs:
                if z[:m] != y[:m] or joint[z] == 0:
                    continue
                propose = np.prod(sampled[z][m:])
                if propose == 0:
                    continue
                ratio = (joint[z] / joint[y]) ** alpha
                ratio *= (np.prod(believed[y][m:]) / np.prod(believed[z][m:])) ** sign
                K[index[y], index[z]] += propose * min(1.0, ratio) / T
        K[index[y], index[y]] += 1.0 - K[index[y]].sum()
    return init, K


def mh_output_law(joint: np.ndarray, alpha: float, n_mcmc: int, variant: str = "correct", top_k: int = 1) -> np.ndarray:
    """The exact law of the sampler's output, ``init @ K^n_mcmc``, shape ``joint.shape``."""
    init, K = mh_transition_matrix(joint, alpha, variant, top_k)
    return (init @ np.linalg.matrix_power(K, n_mcmc)).reshape(joint.shape)


def temperature_law(joint: np.ndarray, alpha: float) -> np.ndarray:
    """The exact law of :func:`temperature_sampler`, brute force from the joint."""
    sampled, _ = _temperature_tables(joint, alpha, None)
    return sampled.prod(axis=-1)
