"""Hypothesis strategies shared by every test of ``exact`` (and by anyone's CI).

All strategies are bounded so a property test stays fast: at most
``5**5 = 3125`` sequences per random :class:`~exact.TabularAR`, Markov chains
with ``V <= 5`` and ``T <= 6``.  Models are drawn through their own seeded
constructors (``TabularAR.random``, ``MarkovAR``), so a failing example
shrinks to a handful of integers and floats.

EOS (``exact.eos``: EOS absorbing in the dense table, completions end at their
first EOS or at ``T``): :func:`eos_models` draws an EOS-absorbing
:class:`~exact.TabularAR` (``tabular_models(eos=True)``; ``eos=None`` draws EOS
or no EOS), :func:`eos_conditionals` draws raw per-step conditional tables with
arbitrary rows after EOS (for ``from_conditionals`` and for brute force that
multiplies conditionals along a completion), :func:`explicit_eos_joints` an
absorbing joint built completion by completion (for ``from_joint``).  Every
existing strategy keeps its behaviour by default (EOS off, no extra draws).

Usage::

    from hypothesis import given
    from exact.testing import strategies as st_exact

    @given(st_exact.tabular_models(), st_exact.alphas_sharpening())
    def test_something(model, alpha): ...
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
from hypothesis import strategies as st

from ..eos import pad_completions
from ..models import MarkovAR, TabularAR

#: Exponents every power computation must survive (huge, tiny, near 1, integers).
REGRESSION_ALPHAS = (1e-3, 0.05, 0.5, 0.999, 1.0, 1.001, 2.0, 4.0, 50.0, 1e3, 1e4)

#: Dirichlet concentrations drawn by :func:`tabular_models`: peaked (0.05) to flat (5).
CONCENTRATIONS = (0.05, 0.2, 1.0, 5.0)


def seeds() -> st.SearchStrategy[int]:
    """A seed for ``numpy.random.default_rng`` (small, so shrinking is quick)."""
    return st.integers(min_value=0, max_value=2**16)


def vocab_sizes(
    min_vocab: int = 2, max_vocab: int = 5, min_horizon: int = 1, max_horizon: int = 5, per_step: bool = True
) -> st.SearchStrategy[tuple[int, ...]]:
    """Per-step vocabulary sizes ``(V_1, ..., V_T)``.

    With ``per_step`` the sizes may differ between steps; otherwise one ``V``
    repeated ``T`` times.  ``Π V_t <= max_vocab ** max_horizon``.
    """
    horizon = st.integers(min_horizon, max_horizon)
    if per_step:
        return horizon.flatmap(lambda t: st.tuples(*[st.integers(min_vocab, max_vocab)] * t))
    return st.tuples(st.integers(min_vocab, max_vocab), horizon).map(lambda vt: (vt[0],) * vt[1])


@st.composite
def tabular_models(
    draw: st.DrawFn,
    min_vocab: int = 2,
    max_vocab: int = 5,
    min_horizon: int = 1,
    max_horizon: int = 5,
    per_step: bool = True,
    zeros: bool = True,
    eos: bool | None = False,
) -> TabularAR:
    """A random :class:`TabularAR`: Dirichlet conditionals, optional exact zeros, optional EOS.

    Vocabulary 2-5 per step, horizon 1-5 (per-step sizes may differ), a
    concentration from :data:`CONCENTRATIONS`, and with ``zeros`` a
    ``zero_fraction`` in ``{0, 0.3, 0.6}`` so zero-probability prefixes and
    sequences are common.  ``eos=True``: an absorbing EOS id drawn by
    :func:`eos_token_ids`; ``eos=None``: EOS or ``None``; ``eos=False`` (default): no EOS.
    """
    sizes = draw(vocab_sizes(min_vocab, max_vocab, min_horizon, max_horizon, per_step))
    concentration = draw(st.sampled_from(CONCENTRATIONS))
    zero_fraction = draw(st.sampled_from((0.0, 0.3, 0.6))) if zeros else 0.0
    eos_token_id = None if eos is False else draw(eos_token_ids(sizes, allow_none=eos is None))
    return TabularAR.random(
        sizes, seed=draw(seeds()), concentration=concentration, zero_fraction=zero_fraction, eos_token_id=eos_token_id
    )


def eos_token_ids(sizes: Sequence[int], allow_none: bool = False) -> st.SearchStrategy[int | None]:
    """An EOS id valid at every step (``0 ≤ eos < min V_t``), or also ``None`` with ``allow_none``."""
    ids = st.integers(0, min(int(v) for v in sizes) - 1)
    return st.one_of(st.none(), ids) if allow_none else ids


def eos_models(
    min_vocab: int = 2,
    max_vocab: int = 5,
    min_horizon: int = 1,
    max_horizon: int = 5,
    per_step: bool = True,
    zeros: bool = True,
    allow_none: bool = False,
) -> st.SearchStrategy[TabularAR]:
    """An EOS-absorbing random :class:`TabularAR` (:func:`tabular_models` with ``eos=True``; ``eos=None`` with ``allow_none``)."""
    return tabular_models(min_vocab, max_vocab, min_horizon, max_horizon, per_step, zeros, eos=None if allow_none else True)


class EOSConditionals(NamedTuple):
    """Raw per-step conditional tables and an EOS id, as a real LM would give them."""

    log_conditionals: tuple[np.ndarray, ...]
    """Entry ``t-1``: ``log π(y_t | y_<t)``, shape ``V_1..V_t``, every row normalised; the rows after EOS
    are arbitrary distributions (not absorbing), which ``from_conditionals`` must ignore."""
    eos_token_id: int | None
    """The EOS id (``None`` only when drawn with ``allow_none``)."""


@st.composite
def eos_conditionals(
    draw: st.DrawFn,
    min_vocab: int = 2,
    max_vocab: int = 4,
    min_horizon: int = 1,
    max_horizon: int = 4,
    zeros: bool = True,
    allow_none: bool = False,
) -> EOSConditionals:
    """Per-step Dirichlet conditional tables (rows after EOS *not* absorbing) and an EOS id.

    With ``zeros`` each entry is zeroed with chance 0.3 (the largest of each row survives).
    Build the model with ``TabularAR.from_conditionals(tables, eos_token_id=eos)``; a brute
    force multiplies these tables along a completion and never reads a row after EOS.
    """
    sizes = draw(vocab_sizes(min_vocab, max_vocab, min_horizon, max_horizon, per_step=True))
    eos = draw(eos_token_ids(sizes, allow_none=allow_none))
    concentration = draw(st.sampled_from(CONCENTRATIONS))
    rng = np.random.default_rng(draw(seeds()))
    tables = []
    for t in range(1, len(sizes) + 1):
        p = rng.dirichlet(np.full(sizes[t - 1], concentration), size=sizes[: t - 1])
        p = np.maximum(p, 1e-300 * (p == p.max(axis=-1, keepdims=True)))  # a row's maximum never underflows to 0
        if zeros:
            drop = (rng.random(p.shape) < 0.3) & (p < p.max(axis=-1, keepdims=True))
            p[drop] = 0.0
        p = p / p.sum(axis=-1, keepdims=True)
        with np.errstate(divide="ignore"):
            tables.append(np.log(p).reshape(sizes[:t]))
    return EOSConditionals(tuple(tables), eos)


class EOSJoint(NamedTuple):
    """An EOS-absorbing joint over padded sequences and its EOS id."""

    joint: np.ndarray
    """Probabilities of shape ``(V_1, ..., V_T)``, zero on every non-state (a non-EOS token after EOS)."""
    eos_token_id: int


@st.composite
def explicit_eos_joints(draw: st.DrawFn, max_vocab: int = 4, max_horizon: int = 4, tiny: bool = False) -> EOSJoint:
    """:func:`explicit_joints` over variable-length completions: one entry per completion, then padded.

    The completions are every sequence of length ``≤ T`` ending at its first EOS plus the
    length-``T`` sequences without EOS; each gets a probability from ``{0} ∪ [1e-3, 1]``
    (with ``tiny`` also ``[1e-300, 1e-200]``), at least one positive, normalised, and is
    placed at its padded sequence (``exact.pad_completions``); all other entries are 0.
    """
    sizes = draw(vocab_sizes(2, max_vocab, 1, max_horizon, per_step=True))
    eos = draw(eos_token_ids(sizes))
    completions = list(_completions(sizes, eos))
    entry = st.one_of(st.just(0.0), st.floats(1e-3, 1.0))
    if tiny:
        entry = st.one_of(entry, st.floats(1e-300, 1e-200))
    values = np.array(draw(st.lists(entry, min_size=len(completions), max_size=len(completions))), dtype=np.float64)
    if not np.any(values >= 1e-3):
        values[draw(st.integers(0, len(completions) - 1))] = 1.0
    joint = np.zeros(sizes)
    padded = pad_completions(completions, len(sizes), eos)
    joint[tuple(padded.T)] = values / values.sum()
    return EOSJoint(joint, eos)


def _completions(sizes: Sequence[int], eos: int):
    """Every completion ``(y_1..y_k)``: ``y_k = EOS`` is its first EOS (``k ≤ T``), or ``k = T`` without EOS."""
    horizon = len(sizes)

    def grow(prefix: tuple[int, ...]):
        for v in range(sizes[len(prefix)]):
            y = prefix + (v,)
            if v == eos or len(y) == horizon:
                yield y
            else:
                yield from grow(y)

    yield from grow(())


@st.composite
def explicit_joints(
    draw: st.DrawFn, max_vocab: int = 4, max_horizon: int = 4, tiny: bool = False
) -> np.ndarray:
    """A joint probability array with explicit zeros, built entry by entry (for ``from_joint``).

    Entries are drawn from ``{0} ∪ [1e-3, 1]`` (with ``tiny``, also from
    ``[1e-300, 1e-200]``), at least one entry positive, then normalised.
    """
    sizes = draw(vocab_sizes(2, max_vocab, 1, max_horizon, per_step=True))
    n = int(np.prod(sizes))
    entry = st.one_of(st.just(0.0), st.floats(1e-3, 1.0))
    if tiny:
        entry = st.one_of(entry, st.floats(1e-300, 1e-200))
    values = np.array(draw(st.lists(entry, min_size=n, max_size=n)), dtype=np.float64)
    if not np.any(values >= 1e-3):
        values[draw(st.integers(0, n - 1))] = 1.0
    return (values / values.sum()).reshape(sizes)


@st.composite
def markov_models(
    draw: st.DrawFn,
    min_vocab: int = 2,
    max_vocab: int = 5,
    min_horizon: int = 1,
    max_horizon: int = 6,
    zeros: bool = True,
    eos: bool = False,
) -> MarkovAR:
    """A random :class:`MarkovAR` (Dirichlet initial law and rows), optionally with zero transitions.

    With ``zeros`` each transition is zeroed with chance 0.3 (the largest entry
    of each row survives), so impossible prefixes appear.  With ``eos`` an EOS id is
    drawn and its transition row becomes the point mass on EOS (absorbing).
    """
    vocab = draw(st.integers(min_vocab, max_vocab))
    horizon = draw(st.integers(min_horizon, max_horizon))
    concentration = draw(st.sampled_from(CONCENTRATIONS))
    rng = np.random.default_rng(draw(seeds()))
    p0 = rng.dirichlet(np.full(vocab, concentration))
    P = rng.dirichlet(np.full(vocab, concentration), size=vocab)
    if zeros and draw(st.booleans()):
        drop = rng.random(P.shape) < 0.3
        drop[np.arange(vocab), P.argmax(axis=1)] = False
        P[drop] = 0.0
        p0[(rng.random(vocab) < 0.3) & (np.arange(vocab) != p0.argmax())] = 0.0
    p0 = np.maximum(p0, 0.0)
    eos_token_id = draw(st.integers(0, vocab - 1)) if eos else None
    if eos_token_id is not None:
        P[eos_token_id] = np.eye(vocab)[eos_token_id]
    return MarkovAR(p0 / p0.sum(), P / P.sum(axis=1, keepdims=True), horizon, eos_token_id)


def alphas_sharpening(max_alpha: float = 50.0) -> st.SearchStrategy[float]:
    """Power exponents ``α ∈ (1, max_alpha]`` (sharpening), with 2 and ``max_alpha`` as explicit examples."""
    return st.one_of(
        st.sampled_from((2.0, 4.0, float(max_alpha))),
        st.floats(1.0, max_alpha, exclude_min=True, allow_nan=False),
    )


def alphas_flattening() -> st.SearchStrategy[float]:
    """Power exponents ``α ∈ (0, 1)`` (flattening), down to 1e-3."""
    return st.one_of(st.sampled_from((0.5, 1e-3)), st.floats(1e-3, 1.0, exclude_max=True))


def alphas_regression() -> st.SearchStrategy[float]:
    """The fixed regression set :data:`REGRESSION_ALPHAS` (includes 1e3 and 1e4)."""
    return st.sampled_from(REGRESSION_ALPHAS)


def alphas(max_alpha: float = 50.0) -> st.SearchStrategy[float]:
    """Any exponent: sharpening, flattening or one of the regression values."""
    return st.one_of(alphas_sharpening(max_alpha), alphas_flattening(), alphas_regression())


def _positive_prefix(model, rng_draw: Sequence[float], length: int) -> tuple[int, ...]:
    """Walk ``length`` steps choosing tokens with positive conditional probability."""
    prefix: list[int] = []
    for step in range(length):
        support = np.flatnonzero(np.isfinite(model.log_conditional(prefix)))
        prefix.append(int(support[int(rng_draw[step] * len(support)) % len(support)]))
    return tuple(prefix)


def prefixes(model, min_length: int = 0, max_length: int | None = None) -> st.SearchStrategy[tuple[int, ...]]:
    """A prefix of ``model`` with positive probability, of length in ``[min_length, max_length]``.

    ``max_length`` defaults to ``T - 1`` (the longest prefix that has a next-token
    conditional).  Tokens are chosen among those of positive conditional probability.
    """
    top = model.horizon - 1 if max_length is None else min(max_length, model.horizon - 1)
    lo = min(min_length, top)
    return st.integers(lo, top).flatmap(
        lambda length: st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=length, max_size=length).map(
            lambda u: _positive_prefix(model, u, length)
        )
    )


@st.composite
def models_with_prefix(draw: st.DrawFn, models: st.SearchStrategy | None = None) -> tuple[object, tuple[int, ...]]:
    """A model (default :func:`tabular_models`) together with one of its positive-probability prefixes."""
    model = draw(tabular_models() if models is None else models)
    return model, draw(prefixes(model))


__all__ = [
    "REGRESSION_ALPHAS",
    "CONCENTRATIONS",
    "seeds",
    "vocab_sizes",
    "tabular_models",
    "eos_token_ids",
    "eos_models",
    "EOSConditionals",
    "eos_conditionals",
    "EOSJoint",
    "explicit_eos_joints",
    "explicit_joints",
    "markov_models",
    "alphas_sharpening",
    "alphas_flattening",
    "alphas_regression",
    "alphas",
    "prefixes",
    "models_with_prefix",
]
