"""Finite autoregressive models, enumerated exactly (paper Section 3).

A model fixes one prompt ``x`` and a completion length ``T`` (``horizon``); step
``t`` draws a token from a vocabulary of ``vocab_sizes[t-1]`` symbols
(``0 .. V_t - 1``).  Every model exposes the same small interface,
:class:`AutoregressiveModel`, which is all the quantities in ``exact`` and the
estimators in ``llm`` rely on:

* ``log_conditional(prefix)`` -- ``log π(y_t | x, y_<t)`` as a length-``V_t`` vector;
* ``next_token_logprobs(contexts)`` -- the same for a batch of prefixes of one length;
* ``log_power_suffix_mass(prefix, alpha)`` -- ``log Σ_z q_{t,a}(z)^α`` for every
  next token ``a``, i.e. ``(1 - α) H_α(q_{t,a})`` (Prop. 1);
* ``log_prefix_marginals(t)`` / ``log_prefix_totals(alpha, t)`` -- the dense tables
  ``log π(y_{1:t})`` and ``log π̃_{α,t}(y_{1:t})`` (Eq. 8) over every length-``t`` prefix;
* ``log_prob(sequences)``, ``sample(n, rng)``.

Two implementations:

* :class:`TabularAR` stores ``log π(y_{1:T})`` as a dense float64 array of shape
  ``(V_1, ..., V_T)`` and derives every table by one backward logsumexp sweep.
* :class:`MarkovAR` (initial distribution + transition matrix) answers the same
  questions by backward dynamic programming in ``O(T·V²)``, so ``T = 10 000`` works.
"""

from __future__ import annotations

import math
from collections import Counter
from functools import cached_property
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from ._logspace import logsumexp
from ._memory import check_allocation
from ._numerics import inverse_cdf
from ._tables import prefix_levels
from ._validate import (
    check_alpha,
    check_count,
    check_horizon,
    check_log_conditionals,
    check_positive,
    check_probability_vector,
    check_real,
    check_rng,
    check_vocab_sizes,
    real_array,
)
from .eos import absorb_eos, check_absorbing, check_eos_token_id, completion_lengths

#: Tolerance on ``|Σ p - 1|`` when a joint or a conditional is given as probabilities.
NORMALIZATION_TOL = 1e-9

#: How many exponents' power tables a model keeps cached.
_POWER_CACHE_SIZE = 8


@runtime_checkable
class AutoregressiveModel(Protocol):
    """The interface shared by every finite model (and wrapped by ``llm.ToyModel``)."""

    @property
    def vocab_sizes(self) -> tuple[int, ...]: ...

    @property
    def horizon(self) -> int: ...

    @property
    def eos_token_id(self) -> int | None: ...

    def log_conditional(self, prefix: Sequence[int]) -> np.ndarray: ...

    def next_token_logprobs(self, contexts: np.ndarray) -> np.ndarray: ...

    def log_power_suffix_mass(self, prefix: Sequence[int], alpha: float) -> np.ndarray: ...

    def log_prefix_marginals(self, length: int) -> np.ndarray: ...

    def log_prefix_totals(self, alpha: float, length: int) -> np.ndarray: ...

    def log_prob(self, sequences: np.ndarray) -> np.ndarray: ...

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray: ...


class _ModelBase:
    """Validation and derived methods shared by the concrete models."""

    _vocab_sizes: tuple[int, ...]
    _eos_token_id: int | None = None

    @property
    def vocab_sizes(self) -> tuple[int, ...]:
        """``(V_1, ..., V_T)``: the number of tokens available at each step."""
        return self._vocab_sizes

    @property
    def horizon(self) -> int:
        """``T``: the fixed completion length."""
        return len(self._vocab_sizes)

    @property
    def eos_token_id(self) -> int | None:
        """The absorbing end-of-sequence token (``exact.eos``), or ``None``: every completion has ``T`` tokens."""
        return self._eos_token_id

    def completion_lengths(self, sequences: np.ndarray) -> np.ndarray:
        """``|y|`` of each padded sequence: the position of its first EOS (1-based), else ``T``."""
        return completion_lengths(self.check_sequences(sequences), self._eos_token_id)

    @property
    def vocab_size(self) -> int:
        """``V`` when every step has the same vocabulary (else ``ValueError``)."""
        if len(set(self._vocab_sizes)) != 1:
            raise ValueError(f"per-step vocabulary sizes differ: {self._vocab_sizes}; use vocab_sizes")
        return self._vocab_sizes[0]

    @property
    def n_sequences(self) -> int:
        """``|Y| = Π_t V_t``."""
        return math.prod(size**count for size, count in Counter(self._vocab_sizes).items())  # V**T by pow, not T products

    # -- validation --------------------------------------------------------
    def check_prefix(self, prefix: Sequence[int], allow_full: bool = False) -> tuple[int, ...]:
        """Validate a prefix: integer token ids in range, length < T (≤ T if ``allow_full``)."""
        arr = np.asarray(prefix)
        if arr.ndim != 1:
            raise ValueError(f"a prefix must be a 1-D sequence of token ids, got shape {arr.shape}")
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"token ids must be integers, got dtype {arr.dtype}")
        limit = self.horizon if allow_full else self.horizon - 1
        if arr.size > limit:
            raise ValueError(f"prefix of length {arr.size} is too long for horizon T = {self.horizon}")
        for position, (token, size) in enumerate(zip(arr.tolist(), self._vocab_sizes)):
            if not 0 <= token < size:
                raise ValueError(f"token id {token} at position {position} is out of range [0, {size})")
        return tuple(int(v) for v in arr.tolist())

    def check_sequences(self, sequences: np.ndarray) -> np.ndarray:
        """Validate an ``(n, T)`` (or ``(T,)``) integer array of complete sequences."""
        arr = np.asarray(sequences)
        if arr.ndim not in (1, 2) or arr.shape[-1] != self.horizon:
            raise ValueError(f"sequences must have shape (n, {self.horizon}) or ({self.horizon},), got {arr.shape}")
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"token ids must be integers, got dtype {arr.dtype}")
        sizes = np.asarray(self._vocab_sizes)
        if arr.size and (np.any(arr < 0) or np.any(arr >= sizes)):
            raise ValueError(f"token ids out of range for per-step vocabulary sizes {self._vocab_sizes}")
        return arr

    def check_length(self, length: int, allow_full: bool = True) -> int:
        limit = self.horizon if allow_full else self.horizon - 1
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or not 0 <= length <= limit:
            raise ValueError(f"prefix length must be an integer in [0, {limit}], got {length!r}")
        return int(length)

    # -- derived -----------------------------------------------------------
    def conditional(self, prefix: Sequence[int]) -> np.ndarray:
        """``π(y_t = · | x, y_<t)`` as a probability vector of length ``V_t``."""
        return np.exp(self.log_conditional(prefix))

    def next_token_logprobs(self, contexts: np.ndarray) -> np.ndarray:
        """``log π(· | context)`` for a batch ``(B, t)`` of equal-length prefixes -> ``(B, V_{t+1})``."""
        batch = np.asarray(contexts)
        if batch.ndim != 2:
            raise ValueError(f"contexts must be a 2-D (batch, length) array, got shape {batch.shape}")
        if len(batch) == 0:
            length = self.check_length(batch.shape[1], allow_full=False)
            return np.empty((0, self._vocab_sizes[length]))
        return np.stack([self.log_conditional(row) for row in batch])

    def joint(self) -> np.ndarray:
        """``π(y_{1:T} | x)`` as a dense array of shape ``vocab_sizes``."""
        return np.exp(self.log_joint())

    def log_joint(self) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def _prefix_log_prob(self, prefix: tuple[int, ...]) -> float:
        raise NotImplementedError  # pragma: no cover

    def _check_positive_prefix(self, prefix: tuple[int, ...]) -> None:
        if prefix and not np.isfinite(self._prefix_log_prob(prefix)):
            raise ValueError(f"prefix {list(prefix)} has probability zero under the model; its conditional is undefined")


class TabularAR(_ModelBase):
    """A finite autoregressive model given by its dense joint ``π(y_{1:T})``.

    Build with :meth:`from_joint`, :meth:`from_log_joint` or :meth:`random`.  The
    conditionals ``π(y_t | y_<t) = π(y_{1:t}) / π(y_<t)`` are read off the prefix
    marginals; power quantities use the prefix totals of Eq. (8), computed in one
    backward logsumexp sweep and cached per exponent.
    """

    def __init__(self, log_joint: np.ndarray, eos_token_id: int | None = None):
        logp = np.array(real_array(log_joint, "the log joint"))  # own copy: the model is immutable
        if logp.ndim < 1 or 0 in logp.shape:
            raise ValueError(f"the joint must have at least one axis and no empty axis, got shape {logp.shape}")
        if np.any(np.isnan(logp)) or np.any(logp == np.inf):
            raise ValueError("the log joint has NaN or +inf entries")
        log_total = float(logsumexp(logp, axis=None))
        if not abs(np.expm1(log_total)) <= NORMALIZATION_TOL:
            raise ValueError(
                f"the joint must sum to 1 within {NORMALIZATION_TOL:g}; it sums to {float(np.exp(log_total))!r}"
            )
        self._eos_token_id = check_eos_token_id(eos_token_id, logp.shape)
        if self._eos_token_id is not None:
            check_absorbing(logp, self._eos_token_id)
        logp.setflags(write=False)
        self._logp = logp
        self._vocab_sizes = tuple(int(s) for s in logp.shape)
        self._power_cache: dict[float, tuple[np.ndarray, ...]] = {}

    # -- constructors ------------------------------------------------------
    @classmethod
    def from_joint(cls, joint: np.ndarray, eos_token_id: int | None = None) -> "TabularAR":
        """From a non-negative array of shape ``(V_1, ..., V_T)`` summing to 1 (zeros allowed).

        With ``eos_token_id`` the joint must be EOS-absorbing (``exact.eos``): no mass on a
        non-EOS token after EOS.
        """
        p = real_array(joint, "the joint")
        if p.ndim < 1:
            raise ValueError(f"the joint must be an array of shape (V_1, ..., V_T), got a scalar")
        if not np.all(np.isfinite(p)):
            raise ValueError("the joint has NaN or infinite entries")
        if np.any(p < 0):
            raise ValueError(f"the joint has negative entries (min {p.min():.3g})")
        with np.errstate(divide="ignore"):
            return cls(np.log(p), eos_token_id)

    @classmethod
    def from_log_joint(cls, log_joint: np.ndarray, eos_token_id: int | None = None) -> "TabularAR":
        """From ``log π(y_{1:T})`` (``-inf`` for impossible sequences); keeps tiny probabilities exact."""
        return cls(log_joint, eos_token_id)

    @classmethod
    def from_conditionals(cls, log_conditionals: Sequence[np.ndarray], eos_token_id: int | None = None) -> "TabularAR":
        """From per-step log conditional tables ``log π(y_t | y_<t)`` of shape ``(V_1..V_t)``.

        With ``eos_token_id``, the rows after EOS are replaced by the point mass on EOS
        (``exact.eos.absorb_eos``): what a real model says after its EOS is never used.
        Every other row under a prefix of positive probability must sum to 1 within
        ``NORMALIZATION_TOL`` (``ValueError`` naming the row and its sum otherwise).
        """
        tables = check_log_conditionals(log_conditionals, NORMALIZATION_TOL, eos_token_id)  # EOS rows absorbed
        shape = tables[-1].shape
        logp = np.zeros(shape)
        for t, table in enumerate(tables):
            logp += table.reshape(table.shape + (1,) * (len(shape) - t - 1))
        return cls(logp, eos_token_id)

    @classmethod
    def random(
        cls,
        vocab_size: int | Sequence[int],
        horizon: int | None = None,
        seed: int | np.random.Generator | None = 0,
        concentration: float = 1.0,
        zero_fraction: float = 0.0,
        eos_token_id: int | None = None,
    ) -> "TabularAR":
        """Dirichlet(``concentration``) next-token conditionals at every prefix.

        ``vocab_size`` is an int (with ``horizon``) or a tuple of per-step sizes.
        With ``zero_fraction > 0`` each token at each prefix is independently given
        probability exactly zero with that chance (one token per prefix always
        survives), so zero-probability sequences appear.  Gamma variates are drawn
        in log space, so tiny concentrations never underflow to ``0/0``.
        With ``eos_token_id``, EOS is absorbing (``exact.eos``): completions end at
        their first EOS or at ``T``.
        """
        sizes = check_vocab_sizes(vocab_size, horizon)
        eos_token_id = check_eos_token_id(eos_token_id, sizes)
        concentration = check_positive(concentration, "concentration")
        zero_fraction = check_real(zero_fraction, "zero_fraction")
        if not 0.0 <= zero_fraction < 1.0:
            raise ValueError(f"zero_fraction must lie in [0, 1), got {zero_fraction!r}")
        check_allocation(sizes, "the joint of this model")
        rng = np.random.default_rng(seed)
        logp = np.zeros(sizes)
        for t in range(1, len(sizes) + 1):
            shape = sizes[:t]
            # log Gamma(a) = log Gamma(a + 1) + log(U) / a  (exact; stable for small a)
            log_gamma = np.log(rng.standard_gamma(concentration + 1.0, size=shape))
            log_gamma += np.log(rng.random(size=shape)) / concentration
            if zero_fraction > 0:
                drop = rng.random(size=shape) < zero_fraction
                keep = np.argmax(log_gamma, axis=-1)
                np.put_along_axis(drop, keep[..., None], False, axis=-1)
                log_gamma[drop] = -np.inf
            log_cond = log_gamma - logsumexp(log_gamma, axis=-1)[..., None]
            if eos_token_id is not None:
                log_cond = absorb_eos(log_cond, eos_token_id)
            logp += log_cond.reshape(shape + (1,) * (len(sizes) - t))
        # renormalise away the last ulps of the sums so the joint passes the tolerance exactly
        logp -= logsumexp(logp, axis=None)
        return cls(logp, eos_token_id)

    # -- dense tables ------------------------------------------------------
    def log_joint(self) -> np.ndarray:
        """``log π(y_{1:T})``, read-only, shape ``vocab_sizes``."""
        return self._logp

    @cached_property
    def _log_marginals(self) -> tuple[np.ndarray, ...]:
        return prefix_levels(self._logp)  # index t -> log π(y_{1:t})

    def log_prefix_marginals(self, length: int) -> np.ndarray:
        """``log π(y_{1:t})`` for every prefix of length ``t`` (shape ``vocab_sizes[:t]``)."""
        return self._log_marginals[self.check_length(length)]

    def _power_top_levels(self, alpha: float) -> tuple[np.ndarray, ...]:
        """``log π̃_{α,t}`` for ``t = 0 .. T-1`` (cached per α; the leaves ``α log π`` are not cached,
        so the cache costs ~1/(V-1) of the joint per exponent, not a full copy)."""
        alpha = check_alpha(alpha)
        levels = self._power_cache.get(alpha)
        if levels is None:
            top = [logsumexp(self._logp, axis=-1, scale=alpha)]
            for _ in range(self.horizon - 1):
                top.append(logsumexp(top[-1], axis=-1))
            levels = tuple(reversed(top))
            for level in levels:
                level.setflags(write=False)
            if len(self._power_cache) >= _POWER_CACHE_SIZE:
                self._power_cache.pop(next(iter(self._power_cache)))
            self._power_cache[alpha] = levels
        return levels

    def _power_leaves(self, alpha: float) -> np.ndarray:
        leaves = check_alpha(alpha) * self._logp
        leaves.setflags(write=False)
        return leaves

    def log_prefix_totals(self, alpha: float, length: int) -> np.ndarray:
        """``log π̃_{α,t}(y_{1:t}) = log Σ_{y_{t+1:T}} π(y_{1:T})^α`` (Eq. 8), shape ``vocab_sizes[:t]``."""
        length = self.check_length(length)
        if length == self.horizon:
            return self._power_leaves(alpha)
        return self._power_top_levels(alpha)[length]

    # -- conditionals --------------------------------------------------------
    def _prefix_log_prob(self, prefix: tuple[int, ...]) -> float:
        return float(self._log_marginals[len(prefix)][prefix])

    def log_conditional(self, prefix: Sequence[int]) -> np.ndarray:
        """``log π(y_t = · | y_<t)`` for a prefix of length ``t - 1`` with ``π(y_<t) > 0``."""
        key = self.check_prefix(prefix)
        self._check_positive_prefix(key)
        t = len(key)
        return self._log_marginals[t + 1][key] - self._log_marginals[t][key]

    def log_power_suffix_mass(self, prefix: Sequence[int], alpha: float) -> np.ndarray:
        """``log Σ_z q_{t,a}(z)^α`` for every next token ``a`` (``-inf`` where ``π(a | prefix) = 0``)."""
        key = self.check_prefix(prefix)
        self._check_positive_prefix(key)
        alpha = check_alpha(alpha)
        t = len(key)
        totals = self._power_top_levels(alpha)[t + 1][key] if t + 1 < self.horizon else alpha * self._logp[key]
        marginals = self._log_marginals[t + 1][key]
        finite = np.isfinite(marginals)
        return np.where(finite, totals - alpha * np.where(finite, marginals, 0.0), -np.inf)

    # -- sequences -----------------------------------------------------------
    def log_prob(self, sequences: np.ndarray) -> np.ndarray:
        """``log π(y_{1:T})`` for an ``(n, T)`` array (or one ``(T,)`` sequence)."""
        arr = self.check_sequences(sequences)
        return self._logp[tuple(np.moveaxis(arr, -1, 0))]

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` i.i.d. sequences ``y ~ π`` by ancestral sampling, shape ``(n, T)``."""
        return _sample_from_levels(self._log_marginals, n, rng)

    def __repr__(self) -> str:
        eos = f", eos_token_id={self._eos_token_id}" if self._eos_token_id is not None else ""
        return f"TabularAR(vocab_sizes={self._vocab_sizes}{eos})"


def _sample_from_levels(log_levels: Sequence[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """Ancestral sampling from unnormalised log prefix tables ``L_0 .. L_T`` (``L_t`` of shape ``V_1..V_t``).

    ``P(y_t | y_<t) = exp(L_t(y_{1:t}) - L_{t-1}(y_<t))``; works for ``π`` and, with the
    power levels, for ``π_α`` itself.
    """
    n = check_count(n, "n", minimum=0)
    rng = check_rng(rng)
    horizon = len(log_levels) - 1
    widest = max((level.shape[-1] for level in log_levels[1:]), default=1)
    check_allocation((n, max(horizon, widest)), "the sampled sequences")
    out = np.empty((n, horizon), dtype=np.int64)
    for t in range(1, horizon + 1):
        level = log_levels[t]
        rows = level[tuple(out[:, : t - 1].T)] if t > 1 else np.broadcast_to(level, (n,) + level.shape)
        out[:, t - 1] = inverse_cdf(rows - logsumexp(rows, axis=-1)[:, None], rng.random(n))
    return out


class MarkovAR(_ModelBase):
    """A first-order Markov chain over ``V`` tokens: ``π(y) = p₀(y₁) Π_t P[y_{t-1}, y_t]``.

    Power quantities come from the backward recursion over suffix power masses

        ``β_0(v) = 0``,  ``β_k(v) = log Σ_w P[v, w]^α exp(β_{k-1}(w))``,

    so ``log Σ_z q_{t,a}(z)^α = β_{T-t}(a)`` and ``log Z_α = log Σ_a p₀(a)^α e^{β_{T-1}(a)}``:
    ``O(T·V²)`` time, no enumeration.
    """

    def __init__(self, initial: np.ndarray, transition: np.ndarray, horizon: int, eos_token_id: int | None = None):
        p0 = check_probability_vector(initial, "initial", NORMALIZATION_TOL)
        P = real_array(transition, "transition")
        V = p0.size
        if P.shape != (V, V):
            raise ValueError(f"transition must have shape ({V}, {V}) to match initial, got {P.shape}")
        for row in range(V):
            check_probability_vector(P[row], f"transition row {row}", NORMALIZATION_TOL)
        horizon = check_horizon(horizon)
        self._eos_token_id = check_eos_token_id(eos_token_id, (V,))
        if self._eos_token_id is not None and P[self._eos_token_id, self._eos_token_id] != 1.0:
            raise ValueError(f"with eos_token_id = {eos_token_id}, transition row {eos_token_id} must be the point mass on EOS")
        with np.errstate(divide="ignore"):
            self._log_initial = np.log(p0)
            self._log_transition = np.log(P)
        self._log_initial.setflags(write=False)
        self._log_transition.setflags(write=False)
        self._vocab_sizes = (V,) * int(horizon)
        self._suffix_cache: dict[float, np.ndarray] = {}

    @classmethod
    def random(
        cls, vocab_size: int, horizon: int, seed: int | None = 0, concentration: float = 1.0, eos_token_id: int | None = None
    ) -> "MarkovAR":
        """Dirichlet(``concentration``) initial distribution and transition rows (EOS's row absorbing if given)."""
        vocab_size = check_count(vocab_size, "vocab_size")
        concentration = check_positive(concentration, "concentration")
        check_allocation((vocab_size, vocab_size), "the transition matrix")
        rng = np.random.default_rng(seed)
        p0 = rng.dirichlet(np.full(vocab_size, float(concentration)))
        P = rng.dirichlet(np.full(vocab_size, float(concentration)), size=vocab_size)
        eos_token_id = check_eos_token_id(eos_token_id, (vocab_size,))
        if eos_token_id is not None:
            P[eos_token_id] = np.eye(vocab_size)[eos_token_id]
        return cls(p0 / p0.sum(), P / P.sum(axis=1, keepdims=True), horizon, eos_token_id)

    @property
    def log_initial(self) -> np.ndarray:
        return self._log_initial

    @property
    def log_transition(self) -> np.ndarray:
        return self._log_transition

    def log_suffix_masses(self, alpha: float) -> np.ndarray:
        """``β_k(v)`` for ``k = 0 .. T-1``, shape ``(T, V)`` (cached per α)."""
        alpha = check_alpha(alpha)
        beta = self._suffix_cache.get(alpha)
        if beta is None:
            T, V = self.horizon, self._vocab_sizes[0]
            check_allocation((T, V), "the suffix power masses β (horizon × vocabulary)")
            beta = np.zeros((T, V))
            scaled = alpha * self._log_transition  # (V, V): α log P, -inf for zero transitions
            # Linear-space step with both factors scaled to max 1: β_k = r + m + log(A @ exp(β_{k-1} - m)),
            # A = exp(α log P - r) (row maxima r).  A row whose sum falls below 1e-280 (products of tiny
            # factors) is redone by logsumexp; every kept sum is >= 1e-280, so underflowed or subnormal
            # terms (< 1e-307) change it by < 1e-27 relative.
            row_max = scaled.max(axis=1)
            A = np.exp(scaled - row_max[:, None])
            log_only = False  # switched on once many rows need the fallback (e.g. α = 1e4): skip the fast try
            for k in range(1, T):
                previous = beta[k - 1]
                if log_only:
                    beta[k] = logsumexp(scaled + previous[None, :], axis=-1)
                    continue
                shift = previous.max()
                sums = A @ np.exp(previous - shift)
                with np.errstate(divide="ignore"):
                    beta[k] = row_max + shift + np.log(sums)
                small = sums < 1e-280
                if small.any():
                    beta[k, small] = logsumexp(scaled[small] + previous[None, :], axis=-1)
                    log_only = 4 * int(small.sum()) > V
            beta.setflags(write=False)
            if len(self._suffix_cache) >= _POWER_CACHE_SIZE:
                self._suffix_cache.pop(next(iter(self._suffix_cache)))
            self._suffix_cache[alpha] = beta
        return beta

    def log_partition(self, alpha: float) -> float:
        """``log Z_α = log Σ_y π(y)^α`` by the backward recursion."""
        beta = self.log_suffix_masses(alpha)
        return float(logsumexp(check_alpha(alpha) * self._log_initial + beta[-1]))

    def _prefix_log_prob(self, prefix: tuple[int, ...]) -> float:
        if not prefix:
            return 0.0
        idx = np.asarray(prefix)
        return float(self._log_initial[idx[0]] + self._log_transition[idx[:-1], idx[1:]].sum())

    def _step_log_conditional(self, prefix: tuple[int, ...]) -> np.ndarray:
        return self._log_transition[prefix[-1]] if prefix else self._log_initial

    def log_conditional(self, prefix: Sequence[int]) -> np.ndarray:
        """``log π(y_t = · | y_<t)``: the initial distribution or the row ``log P[y_{t-1}]``."""
        key = self.check_prefix(prefix)
        self._check_positive_prefix(key)
        return np.array(self._step_log_conditional(key))

    def log_power_suffix_mass(self, prefix: Sequence[int], alpha: float) -> np.ndarray:
        """``log Σ_z q_{t,a}(z)^α = β_{T-t}(a)`` for every next token ``a`` (``t = len(prefix) + 1``)."""
        key = self.check_prefix(prefix)
        self._check_positive_prefix(key)
        beta = self.log_suffix_masses(alpha)
        mass = np.array(beta[self.horizon - len(key) - 1])
        mass[~np.isfinite(self._step_log_conditional(key))] = -np.inf
        return mass

    def _log_prefix_table(self, length: int) -> np.ndarray:
        V = self._vocab_sizes[0]
        check_allocation((V,) * length, f"the table of all {V}^{length} prefixes")
        table = np.zeros(())
        for t in range(length):
            if t == 0:
                table = np.array(self._log_initial)
            else:
                table = table[..., None] + self._log_transition.reshape((1,) * (t - 1) + (V, V))
        return table

    def log_prefix_marginals(self, length: int) -> np.ndarray:
        """``log π(y_{1:t})`` for every prefix of length ``t`` (dense; size-checked)."""
        return self._log_prefix_table(self.check_length(length))

    def log_prefix_totals(self, alpha: float, length: int) -> np.ndarray:
        """``log π̃_{α,t}(y_{1:t}) = α log π(y_{1:t}) + β_{T-t}(y_t)`` (Eq. 8; dense, size-checked)."""
        length = self.check_length(length)
        alpha = check_alpha(alpha)
        if length == 0:
            return np.asarray(self.log_partition(alpha))
        beta = self.log_suffix_masses(alpha)[self.horizon - length]
        table = alpha * self._log_prefix_table(length)
        return table + beta.reshape((1,) * (length - 1) + (-1,))

    def log_joint(self) -> np.ndarray:
        """``log π(y_{1:T})`` as a dense array (size-checked: ``V^T`` entries)."""
        return self._log_prefix_table(self.horizon)

    def log_prob(self, sequences: np.ndarray) -> np.ndarray:
        """``log π(y_{1:T})`` for an ``(n, T)`` array, in ``O(nT)``."""
        arr = self.check_sequences(sequences)
        seqs = arr.reshape(-1, self.horizon)
        out = self._log_initial[seqs[:, 0]] + self._log_transition[seqs[:, :-1], seqs[:, 1:]].sum(axis=1)
        return out.reshape(arr.shape[:-1])

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` i.i.d. sequences ``y ~ π`` by ancestral sampling, shape ``(n, T)``."""
        n = check_count(n, "n", minimum=0)
        rng = check_rng(rng)
        check_allocation((n, max(self.horizon, self._vocab_sizes[0])), "the sampled sequences")
        out = np.empty((n, self.horizon), dtype=np.int64)
        out[:, 0] = inverse_cdf(np.broadcast_to(self._log_initial, (n, self._log_initial.size)), rng.random(n))
        for t in range(1, self.horizon):
            out[:, t] = inverse_cdf(self._log_transition[out[:, t - 1]], rng.random(n))
        return out

    def __repr__(self) -> str:
        eos = f", eos_token_id={self._eos_token_id}" if self._eos_token_id is not None else ""
        return f"MarkovAR(vocab_size={self._vocab_sizes[0]}, horizon={self.horizon}{eos})"
