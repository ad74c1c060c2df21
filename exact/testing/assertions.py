"""Assertion helpers: exact-toy checks of models, power conditionals and samplers.

Each helper raises ``AssertionError`` with a message that says what is wrong
and where (so it reads well under pytest), returns quietly otherwise, and
declares its tolerance:

* exact identities use :data:`EXACT_ATOL` (``1e-10``: float64 closed forms,
  STYLE tier 1) unless the caller passes an ``atol`` that fits their estimator;
* :func:`assert_sampler_matches` is a goodness-of-fit test of ``n`` draws
  against an exact target (Pearson chi-square, or the G-test, after pooling
  cells whose expected count is below ``min_expected``).  It raises with
  probability ``alpha_level`` when the sampler is exactly right (its
  false-alarm rate, up to the chi-square approximation), and with probability
  at least 0.99 (at ``alpha_level = 0.01``) once the noncentrality
  ``n · χ²(sampler law ‖ target)`` over the pooled cells exceeds about 24, 30,
  35, 40, 56 for 1, 3, 6, 10, 30 degrees of freedom.  So to size ``n``: divide
  that number by the chi-square divergence of the mistake you want to catch.

**Sampler convention.** A sampler is a callable ``sampler(model, n, rng)``
returning an ``(n, T)`` integer array of token ids, like ``model.sample(n, rng)``
and ``exact.sample_power(model, alpha, n, rng)``.  It may use the model only
through the shared interface (``log_conditional(prefix)``,
``next_token_logprobs(contexts)``, ``log_prob(sequences)``, ``vocab_sizes``,
``horizon``).  A sampler that makes one draw at a time,
``draw(model, rng) -> sequence``, is adapted by :func:`from_single_draws`.
A sampler with any other calling convention is checked on its draws:
:func:`assert_draws_match` takes an ``(n, T)`` array or variable-length
completions that end at EOS (``llm.audit`` turns ``llm`` samplers and user
code calling a Hugging Face model's ``generate`` into such draws), and
:func:`assert_reproducible` checks that its seed controls them.
"""

from __future__ import annotations

import itertools
from typing import Callable, Sequence

import numpy as np

from .._logspace import logsumexp
from .._validate import check_alpha
from .._goodness import MIN_EXPECTED, CheckPower, SamplerCheck, _pool, check_power, goodness_of_fit  # noqa: F401 (re-exported)
from ..eos import pad_completions
from ..models import AutoregressiveModel
from ..power import log_power_conditional, power_joint, sample_power

#: Absolute tolerance for exact float64 identities (sums to one, chain rules, closed forms).
EXACT_ATOL = 1e-10

#: Default false-alarm rate of :func:`assert_sampler_matches`: one spurious CI failure per 100 runs.
DEFAULT_ALPHA_LEVEL = 0.01

#: Enumerate every sequence / prefix only up to this many (beyond it, pass ``sequences`` or ``rng``).
MAX_ENUMERATED = 20_000

Sampler = Callable[[AutoregressiveModel, int, np.random.Generator], np.ndarray]


# -- distributions -------------------------------------------------------------
def enumerated_log_joint(model: AutoregressiveModel) -> np.ndarray:
    """``log π(y)`` over all sequences, shape ``vocab_sizes``: ``model.log_joint()`` when the model has it,
    else ``model.log_prob`` of every sequence (at most :data:`MAX_ENUMERATED`), so a model that
    implements only the minimal interface (``log_prob``, ``vocab_sizes``) works too."""
    if hasattr(model, "log_joint"):
        return np.asarray(model.log_joint(), dtype=np.float64)
    sizes = tuple(model.vocab_sizes)
    return np.asarray(model.log_prob(_all_sequences(sizes, "sequences")), dtype=np.float64).reshape(sizes)


def power_target(model: AutoregressiveModel, alpha: float) -> np.ndarray:
    """``π_α(y) = π(y)^α / Z_α`` over all sequences (Eq. 4), shape ``vocab_sizes``.

    ``exact.power_joint`` for ``exact`` models; by enumeration for a model with the minimal interface.
    """
    alpha = check_alpha(alpha)
    if hasattr(model, "log_prefix_totals"):
        return power_joint(model, alpha)
    scaled = alpha * enumerated_log_joint(model)
    return np.exp(scaled - logsumexp(scaled, axis=None))


def temperature_target(model: AutoregressiveModel, alpha: float) -> np.ndarray:
    """The law of per-token temperature-``1/α`` sampling, ``Π_t π_temp,α(y_t | y_<t)`` (Eq. 5).

    Not the power distribution unless every suffix has the same Rényi entropy (Prop. 1).
    """
    alpha = check_alpha(alpha)
    log_joint = enumerated_log_joint(model)
    T = log_joint.ndim
    levels = [log_joint]  # levels[k]: log π(y_{1:T-k}), shape vocab_sizes[:T-k]
    for _ in range(T):
        levels.append(logsumexp(levels[-1], axis=-1))
    levels = levels[::-1]  # levels[t]: log π(y_{1:t})
    joint = np.ones(())
    for t in range(1, T + 1):
        parent = levels[t - 1][..., None]
        defined = np.isfinite(parent)
        log_cond = np.where(defined, levels[t] - np.where(defined, parent, 0.0), -np.inf)
        scaled = alpha * log_cond
        with np.errstate(invalid="ignore"):
            table = np.where(defined, np.exp(scaled - logsumexp(scaled, axis=-1)[..., None]), 0.0)
        joint = joint[..., None] * table
    return joint


def base_target(model: AutoregressiveModel) -> np.ndarray:
    """``π(y)`` over all sequences, shape ``vocab_sizes`` (what ``model.sample`` draws)."""
    return np.exp(enumerated_log_joint(model))


def from_single_draws(draw: Callable[[AutoregressiveModel, np.random.Generator], Sequence[int]]) -> Sampler:
    """Adapt ``draw(model, rng) -> one sequence`` to the batched ``sampler(model, n, rng)`` convention."""

    def sampler(model: AutoregressiveModel, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.array([np.asarray(draw(model, rng)) for _ in range(n)]).reshape(n, model.horizon)

    sampler.__name__ = getattr(draw, "__name__", "sampler")
    return sampler


# -- exact invariants -----------------------------------------------------------
def assert_normalized(
    probabilities: np.ndarray, axis: int | None = None, log: bool = False, atol: float = EXACT_ATOL, what: str = "distribution"
) -> None:
    """Entries are probabilities (``≥ 0``, no NaN) summing to 1 within ``atol`` (along ``axis``; all if None).

    With ``log=True`` the input holds log-probabilities (``-inf`` is a legal zero) and
    ``|Σ exp(x) - 1| ≤ atol`` is checked.
    """
    x = np.asarray(probabilities, dtype=np.float64)
    if np.any(np.isnan(x)):
        raise AssertionError(f"{what} has NaN entries at {np.argwhere(np.isnan(x))[:5].tolist()}")
    if log:
        if np.any(x == np.inf):
            raise AssertionError(f"{what} has +inf log-probabilities")
        total = np.exp(logsumexp(x, axis=axis))
    else:
        if np.any(x < 0) or np.any(np.isinf(x)):
            raise AssertionError(f"{what} has negative or infinite entries (min {x.min():.3g}, max {x.max():.3g})")
        total = x.sum(axis=axis)
    error = np.abs(np.asarray(total) - 1.0)
    if np.any(error > atol):
        worst = np.unravel_index(np.argmax(error), error.shape) if error.ndim else ()
        raise AssertionError(
            f"{what} is not normalised: sum {np.asarray(total)[worst]!r} at index {tuple(int(i) for i in worst)} "
            f"(|sum - 1| = {error.max():.3g} > atol {atol:g})"
        )


def _all_sequences(sizes: Sequence[int], what: str) -> np.ndarray:
    count = int(np.prod(sizes, dtype=object))
    if count > MAX_ENUMERATED:
        raise ValueError(f"{count} {what} is too many to enumerate (limit {MAX_ENUMERATED}); pass them explicitly or an rng")
    return np.array(list(itertools.product(*(range(v) for v in sizes))), dtype=np.int64).reshape(count, len(sizes))


def assert_autoregressive_factorization(
    model: AutoregressiveModel,
    sequences: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    n_samples: int = 256,
    atol: float = EXACT_ATOL,
) -> None:
    """The model's parts agree: ``log π(y) = Σ_t log π(y_t | y_<t)`` (the chain rule), every conditional
    sums to one, and ``next_token_logprobs`` equals ``log_conditional`` row by row.

    Checked on ``sequences``, else on every sequence (when at most :data:`MAX_ENUMERATED`),
    else on ``n_samples`` draws of ``model.sample(n_samples, rng)``.  Tolerance: ``atol``
    on each log-probability (``-inf`` must match ``-inf``).
    """
    if sequences is None:
        if int(np.prod(model.vocab_sizes, dtype=object)) <= MAX_ENUMERATED or rng is None:
            sequences = _all_sequences(model.vocab_sizes, "sequences")
        else:
            sequences = model.sample(n_samples, rng)
    seqs = np.asarray(sequences, dtype=np.int64).reshape(-1, model.horizon)
    cache: dict[tuple[int, ...], np.ndarray] = {}
    chained = np.zeros(len(seqs))
    for row, y in enumerate(seqs):
        for t in range(model.horizon):
            if not np.isfinite(chained[row]):
                break  # a zero-probability prefix has no conditional
            prefix = tuple(int(v) for v in y[:t])
            if prefix not in cache:
                log_cond = np.asarray(model.log_conditional(prefix), dtype=np.float64)
                assert_normalized(log_cond, log=True, atol=atol, what=f"log_conditional({list(prefix)})")
                batched = np.asarray(model.next_token_logprobs(np.array([prefix], dtype=np.int64).reshape(1, t)))[0]
                if not _close(batched, log_cond, atol).all():
                    raise AssertionError(
                        f"next_token_logprobs([{list(prefix)}]) = {batched} disagrees with log_conditional = {log_cond}"
                    )
                cache[prefix] = log_cond
            chained[row] += cache[prefix][y[t]]
    direct = np.asarray(model.log_prob(seqs), dtype=np.float64)
    bad = ~_close(direct, chained, atol)
    if bad.any():
        i = int(np.argmax(bad))
        raise AssertionError(
            f"chain rule fails on {int(bad.sum())} of {len(seqs)} sequences; e.g. y = {seqs[i].tolist()}: "
            f"log_prob = {direct[i]!r} but Σ_t log π(y_t | y_<t) = {chained[i]!r} (atol {atol:g})"
        )


def _close(a: np.ndarray, b: np.ndarray, atol: float) -> np.ndarray:
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    both_inf = np.isneginf(a) & np.isneginf(b)
    with np.errstate(invalid="ignore"):
        return both_inf | (np.abs(a - b) <= atol)


def _brute_force_power_conditional(log_joint: np.ndarray, prefix: tuple[int, ...], alpha: float) -> np.ndarray:
    """``Σ_z π(prefix, s, z)^α / Σ_{s,z} π(prefix, s, z)^α`` straight from the dense joint (Eqs. 6, 8)."""
    block = log_joint[prefix]  # shape (V_t, ..., V_T)
    scores = logsumexp(block.reshape(block.shape[0], -1), axis=-1, scale=alpha)
    return np.exp(scores - logsumexp(scores))


def assert_power_conditionals(
    model: AutoregressiveModel,
    alpha: float,
    candidate: Callable[[AutoregressiveModel, Sequence[int], float], np.ndarray] | None = None,
    prefixes: Sequence[Sequence[int]] | None = None,
    atol: float = EXACT_ATOL,
) -> None:
    """Next-token power conditionals ``π_pow,α(· | y_<t)`` (Eqs. 6, 10) are right at every prefix.

    ``candidate(model, prefix, alpha)`` returns a probability vector of length ``V_t`` (your
    estimator, or an approximation: widen ``atol``); without it, the model's own
    ``log_power_suffix_mass`` is checked through ``exact.power_conditional``.  The reference is
    brute force over the enumerated joint (``Σ_z π(y_<t, s, z)^α``, normalised; see
    :func:`enumerated_log_joint`) when the model has at most :data:`MAX_ENUMERATED` sequences,
    else ``exact.power_conditional``.  ``prefixes`` default to every prefix of positive
    probability of every length ``< T`` (required beyond :data:`MAX_ENUMERATED`).
    Tolerance: ``atol`` on each probability.
    """
    alpha = check_alpha(alpha)
    if candidate is None:
        candidate = lambda m, prefix, a: np.exp(log_power_conditional(m, prefix, a))  # noqa: E731
    small = int(np.prod(model.vocab_sizes, dtype=object)) <= MAX_ENUMERATED
    log_joint = enumerated_log_joint(model) if small else None
    if prefixes is None:
        if log_joint is None:
            raise ValueError(f"the model has more than {MAX_ENUMERATED} sequences: pass the prefixes to check")
        prefixes, level = [], log_joint
        for t in range(model.horizon - 1, -1, -1):
            level = logsumexp(level, axis=-1)  # log π(y_{1:t})
            prefixes += [p for p in _all_sequences(model.vocab_sizes[:t], "prefixes") if np.isfinite(level[tuple(p)])]
    worst = (0.0, None, None, None)
    for prefix in prefixes:
        key = tuple(int(v) for v in prefix)
        if log_joint is not None:
            reference = _brute_force_power_conditional(log_joint, key, alpha)
        else:
            reference = np.exp(log_power_conditional(model, key, alpha))
        got = np.asarray(candidate(model, key, alpha), dtype=np.float64)
        if got.shape != reference.shape:
            raise AssertionError(f"power conditional at prefix {list(key)} has shape {got.shape}, expected {reference.shape}")
        error = float(np.max(np.abs(got - reference))) if not np.any(np.isnan(got)) else np.inf
        if error > worst[0]:
            worst = (error, key, got, reference)
    if worst[0] > atol:
        error, key, got, reference = worst
        raise AssertionError(
            f"power conditional at prefix {list(key)} (alpha = {alpha:g}) is off by {error:.3g} > atol {atol:g}:\n"
            f"  got      {np.array2string(got, precision=6)}\n  expected {np.array2string(reference, precision=6)}"
        )


# -- goodness of fit of a sampler --------------------------------------------------
def _check_draws(draws: object, model: AutoregressiveModel, n: int) -> np.ndarray:
    arr = np.asarray(draws)
    if arr.shape != (n, model.horizon):
        raise AssertionError(f"the sampler returned shape {arr.shape}; expected (n, T) = ({n}, {model.horizon})")
    if not np.issubdtype(arr.dtype, np.integer):
        raise AssertionError(f"the sampler returned dtype {arr.dtype}; expected integer token ids")
    sizes = np.asarray(model.vocab_sizes)
    if np.any(arr < 0) or np.any(arr >= sizes):
        raise AssertionError(f"the sampler returned token ids out of range for vocabulary sizes {model.vocab_sizes}")
    return arr


def assert_draws_match(
    draws: np.ndarray | Sequence[Sequence[int]],
    target: np.ndarray,
    alpha_level: float = DEFAULT_ALPHA_LEVEL,
    method: str = "pearson",
    min_expected: float = MIN_EXPECTED,
    show: int = 5,
    name: str = "sampler",
    eos_token_id: int | None = None,
) -> SamplerCheck:
    """Test draws made anywhere (a sampler you did not write, an inference server, a saved file)
    against the exact law ``target``; fail when :func:`goodness_of_fit` rejects at ``alpha_level``.

    ``target``: probabilities over the length-``T`` sequences, shape ``(V_1, ..., V_T)``
    (e.g. :func:`power_target`; on an EOS model the padded completions of ``exact.eos``).
    ``draws``: an ``(n, T)`` integer array, or ``n`` token-id sequences of length ``T``;
    with ``eos_token_id``, variable-length completions, each ending at its first EOS
    (included) or after ``T`` tokens, which are padded with EOS (``exact.pad_completions``).
    A sequence that is no such completion (cut short without EOS, tokens after EOS, more
    than ``T`` tokens) fails the check.  The test is the one of
    :func:`assert_sampler_matches` (same pooling, same false-alarm rate ``alpha_level``);
    any draw of a probability-0 sequence fails outright.  The message lists the ``show``
    worst sequences by standardised residual ``(O - E) / √E``.  Returns the
    :class:`SamplerCheck` when the check passes.
    """
    if not 0.0 < alpha_level < 1.0:
        raise ValueError(f"alpha_level must lie in (0, 1), got {alpha_level!r}")
    assert_normalized(target, atol=1e-9, what="target")  # a wrong target is a failed check, not a usage error
    if not isinstance(draws, np.ndarray):
        try:
            draws = pad_completions(draws, np.ndim(target), eos_token_id)
        except ValueError as error:
            raise AssertionError(f"{name} returned a completion that is not a state of the model: {error}") from error
    result = goodness_of_fit(np.asarray(draws), target, method, min_expected)
    counts, expected = result.observed.reshape(-1), result.expected.reshape(-1)
    shape = result.observed.shape
    impossible = np.flatnonzero((expected == 0) & (counts > 0))
    if impossible.size:
        cells = [(_sequence(i, shape), int(counts[i])) for i in impossible[:show]]
        raise AssertionError(
            f"{name}: {int(counts[impossible].sum())} of {result.n} draws have target probability 0; "
            f"e.g. (sequence, count): {cells}"
        )
    if result.p_value < alpha_level:
        residual = (counts - expected) / np.sqrt(np.where(expected > 0, expected, 1.0))
        worst = np.argsort(-np.abs(residual), kind="stable")[:show]
        lines = [
            f"    {str(_sequence(i, shape)):<20} {int(counts[i]):>9d} {expected[i]:>10.1f} {residual[i]:>+9.2f}"
            for i in worst
        ]
        pooled = f", {result.n_pooled} small ones pooled" if result.n_pooled else ""
        raise AssertionError(
            f"{name} does not match the target: {'chi-square' if method == 'pearson' else 'G'} = "
            f"{result.statistic:.2f} on {result.dof} dof, p = {result.p_value:.3g} < alpha_level = {alpha_level:g} "
            f"(n = {result.n}, {result.n_cells} cells{pooled}).\n"
            f"  worst cells:\n    {'sequence':<20} {'observed':>9} {'expected':>10} {'(O-E)/√E':>9}\n" + "\n".join(lines)
        )
    return result


def assert_sampler_matches(
    sampler: Sampler,
    model: AutoregressiveModel,
    target: np.ndarray,
    n: int,
    rng: np.random.Generator,
    alpha_level: float = DEFAULT_ALPHA_LEVEL,
    method: str = "pearson",
    min_expected: float = MIN_EXPECTED,
    show: int = 5,
) -> SamplerCheck:
    """Draw ``sampler(model, n, rng)`` and test the draws against the exact ``target`` law.

    ``target`` is a probability array of shape ``model.vocab_sizes`` (e.g. :func:`power_target`).
    Fails at once if a draw has target probability 0; otherwise pools cells with expected
    count ``n·target < min_expected`` and runs Pearson's chi-square test (``method="pearson"``)
    or the G-test (``method="g"``) with ``cells - 1`` degrees of freedom (:func:`goodness_of_fit`).
    Fails when the p-value is below ``alpha_level``: the false-alarm rate for an exact sampler
    is ``alpha_level`` up to the chi-square approximation (measured on a 9-sequence toy with
    ``n = 1000``: 38/4000 = 0.0095 at ``alpha_level = 0.01``, 207/4000 = 0.052 at 0.05; see
    ``tests/testing_kit/measure_power.py``).  The failure message
    lists the ``show`` worst sequences: ``(sequence, observed, expected, (O - E)/√E)``.
    Returns the :class:`SamplerCheck` when the check passes.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    p = np.asarray(target, dtype=np.float64)
    if p.shape != tuple(model.vocab_sizes):
        raise ValueError(f"target must have shape vocab_sizes = {tuple(model.vocab_sizes)}, got {p.shape}")
    draws = _check_draws(sampler(model, n, rng), model, n)
    name = f"sampler {getattr(sampler, '__name__', type(sampler).__name__)!r}"
    return assert_draws_match(draws, p, alpha_level, method, min_expected, show, name)


def _rows(draws: object) -> list:
    """Draws as a list of rows (tuples of ints, or strings), whatever container they came in."""
    rows = draws.tolist() if hasattr(draws, "tolist") else list(draws)  # numpy / torch arrays, or sequences
    return [row if isinstance(row, str) else tuple(int(v) for v in row) for row in rows]


def assert_reproducible(sample: Callable[[int], object], seeds: tuple[int, int] = (0, 1), name: str = "sampler") -> None:
    """The seed, and only the seed, controls the draws: ``sample(s)`` called twice gives the same
    draws, and ``sample(s)``, ``sample(s')`` for the two ``seeds`` give different draws.

    ``sample(seed)`` returns a batch of draws (an ``(n, T)`` array, token-id sequences or
    strings), e.g. ``lambda seed: sampler(model, n, np.random.default_rng(seed))``.  The first
    check catches randomness that does not come from the seed (a generator created and never
    seeded, the global RNG); the second, a seed that is ignored (a fixed internal seed, a seed
    argument never passed on).  Two independent batches of ``n`` draws from a law ``p`` coincide
    with probability ``(Σ_y p(y)²)^n ≤ (max_y p(y))^n``, so take ``n`` large enough that this is
    negligible (``n = 50`` with ``max_y p(y) ≤ 0.5``: below 1e-15); a sampler whose law is a
    point mass (Power(∞) on a model with one mode) cannot pass the second check.
    """
    first, second = seeds
    if first == second:
        raise ValueError(f"the two seeds must differ, got {seeds!r}")
    draws = _rows(sample(first))
    again = _rows(sample(first))
    if draws != again:
        differ = [i for i, (a, b) in enumerate(zip(draws, again)) if a != b]
        detail = (
            f"{len(differ)} of {len(draws)} draws differ, e.g. draw {differ[0]}: {draws[differ[0]]} then {again[differ[0]]}"
            if differ else f"{len(draws)} draws, then {len(again)}"
        )
        raise AssertionError(
            f"{name} is not reproducible: two calls with seed {first} gave different draws ({detail}). "
            "Its randomness does not come from the seed only: a generator that is never seeded, or the global RNG?"
        )
    if draws == _rows(sample(second)):
        raise AssertionError(
            f"{name} ignores its seed: seeds {first} and {second} gave the same {len(draws)} draws. "
            "A fixed internal seed, or a seed argument that is never passed on?"
        )


def _sequence(flat_index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(int(flat_index), shape))


__all__ = [
    "EXACT_ATOL",
    "DEFAULT_ALPHA_LEVEL",
    "MIN_EXPECTED",
    "MAX_ENUMERATED",
    "Sampler",
    "SamplerCheck",
    "CheckPower",
    "check_power",
    "enumerated_log_joint",
    "power_target",
    "temperature_target",
    "base_target",
    "sample_power",
    "from_single_draws",
    "assert_normalized",
    "assert_autoregressive_factorization",
    "assert_power_conditionals",
    "goodness_of_fit",
    "assert_draws_match",
    "assert_sampler_matches",
    "assert_reproducible",
]
