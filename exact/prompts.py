"""A finite prompt set ``x ~ μ``, one finite model ``π(· | x)`` per prompt (paper Section 5).

The RL objective of Eq. (11), the forward-KL objective of Eq. (15) and the
sharpening statements of Eq. (3) and Prop. 3 are expectations over prompts
``x ~ μ``.  :class:`PromptedModel` holds the prompts as a tuple of models (each
an :class:`~exact.models.AutoregressiveModel`; their vocabularies and horizons
may differ) and ``μ`` as a probability vector, and computes
``E_{x~μ}[f(x)] = Σ_x μ(x) f(x)`` exactly.

Every function of ``tilt``, ``policy``, ``sharpening`` and ``covariance``
accepts either one model (a single prompt with ``μ = δ_x``) or a
:class:`PromptedModel`; :func:`as_prompted` converts the former to the latter.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from ._validate import check_count, check_rng
from .models import AutoregressiveModel

#: Tolerance on ``|Σ_x μ(x) - 1|``.
PROMPT_WEIGHT_TOL = 1e-9


class PromptedModel:
    """Prompts ``x = 0 .. K-1`` with probabilities ``μ(x)`` and models ``π(· | x)``.

    ``models``: a non-empty sequence of finite autoregressive models, one per prompt.
    ``weights``: ``μ``, non-negative, summing to 1 within :data:`PROMPT_WEIGHT_TOL`
    (``None`` means uniform).  Immutable.
    """

    def __init__(self, models: Sequence[AutoregressiveModel], weights: Sequence[float] | np.ndarray | None = None):
        models = tuple(models) if not isinstance(models, AutoregressiveModel) else (models,)
        if not models:
            raise ValueError("a PromptedModel needs at least one prompt model")
        for index, model in enumerate(models):
            if isinstance(model, PromptedModel) or not isinstance(model, AutoregressiveModel):
                raise ValueError(f"prompt {index}: expected a finite autoregressive model, got {type(model).__name__}")
        if weights is None:
            mu = np.full(len(models), 1.0 / len(models))
        else:
            mu = np.array(weights, dtype=np.float64)
            if mu.ndim != 1 or mu.size != len(models):
                raise ValueError(f"weights must be a 1-D vector with one entry per prompt ({len(models)}), got shape {mu.shape}")
            if not np.all(np.isfinite(mu)):
                raise ValueError("prompt weights have NaN or infinite entries")
            if np.any(mu < 0):
                raise ValueError(f"prompt weights must be non-negative (min {mu.min():.3g})")
            if abs(mu.sum() - 1.0) > PROMPT_WEIGHT_TOL:
                raise ValueError(f"prompt weights must sum to 1 within {PROMPT_WEIGHT_TOL:g}; they sum to {float(mu.sum())!r}")
        mu.setflags(write=False)
        self._models = models
        self._weights = mu

    @property
    def models(self) -> tuple[AutoregressiveModel, ...]:
        """``(π(· | x_0), ..., π(· | x_{K-1}))``."""
        return self._models

    @property
    def weights(self) -> np.ndarray:
        """``μ(x)`` for each prompt, shape ``(K,)``, read-only."""
        return self._weights

    @property
    def n_prompts(self) -> int:
        """``K = |X|``."""
        return len(self._models)

    def __len__(self) -> int:
        return len(self._models)

    def __getitem__(self, index: int) -> AutoregressiveModel:
        return self._models[index]

    def __iter__(self) -> Iterator[AutoregressiveModel]:
        return iter(self._models)

    def expectation(self, values: Sequence[float] | np.ndarray) -> float:
        """``E_{x~μ}[f(x)] = Σ_x μ(x) f(x)`` for per-prompt values ``f(x)`` (prompts with ``μ(x) = 0`` skipped).

        ``±inf`` values propagate (``-inf`` and ``+inf`` together raise ``ValueError``).
        """
        f = np.asarray(values, dtype=np.float64)
        if f.shape != (self.n_prompts,):
            raise ValueError(f"expected one value per prompt, shape ({self.n_prompts},), got {f.shape}")
        live = self._weights > 0
        f = f[live]
        if np.any(np.isnan(f)):
            raise ValueError("per-prompt values contain NaN")
        if np.any(f == np.inf) and np.any(f == -np.inf):
            raise ValueError("per-prompt values contain both +inf and -inf; the expectation is undefined")
        if np.any(np.isinf(f)):
            return float(f[np.isinf(f)][0])
        return float(np.dot(self._weights[live], f))

    def sample_prompt_counts(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """How many of ``n`` i.i.d. draws ``x_i ~ μ`` land on each prompt (a multinomial), shape ``(K,)``."""
        _check_count(n, "n")
        rng = check_rng(rng)
        return rng.multinomial(n, self._weights)

    def __repr__(self) -> str:
        return f"PromptedModel(n_prompts={self.n_prompts}, weights={np.round(self._weights, 4).tolist()})"


def as_prompted(model: AutoregressiveModel | PromptedModel) -> PromptedModel:
    """A :class:`PromptedModel` as is; a single model as one prompt of weight 1."""
    if isinstance(model, PromptedModel):
        return model
    if not isinstance(model, AutoregressiveModel):
        raise ValueError(f"expected a finite autoregressive model or a PromptedModel, got {type(model).__name__}")
    return PromptedModel((model,), (1.0,))


def per_prompt(value: object, model: AutoregressiveModel | PromptedModel, what: str) -> tuple:
    """Split a per-prompt argument into one entry per prompt.

    For a single model the argument is its one entry.  For a :class:`PromptedModel`
    it is a list/tuple with one entry per prompt, or any other single object
    (an array, a callable) used for every prompt.
    """
    if not isinstance(model, PromptedModel):
        return (value,)
    if isinstance(value, (list, tuple)):
        if len(value) != model.n_prompts:
            raise ValueError(f"{what} has {len(value)} entries for {model.n_prompts} prompts")
        return tuple(value)
    return (value,) * model.n_prompts


def _check_count(n: object, name: str) -> int:
    return check_count(n, name, minimum=0)


__all__ = ["PROMPT_WEIGHT_TOL", "PromptedModel", "as_prompted"]
