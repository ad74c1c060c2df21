"""One registry of sampling methods: a name and a :class:`SamplerConfig` → ``n`` completions of a prompt.

The command line (``python -m llm sample``), the teacher (Algorithm 1 of arXiv
2605.04542, lines 3-8), the evaluation (Table 1) and the figures all draw through
:func:`draw`, so a method that can be sampled can also teach and be evaluated.

Methods (:data:`METHODS`, in this order), all at power exponent ``α``:

* ``standard`` -- ancestral sampling from ``π``;
* ``temperature`` -- tokens from ``π(· | x, y_<t)^{1/τ}`` normalised, ``τ = 1/α`` (Eq. 5);
* ``power-mh`` -- block-wise Metropolis-Hastings power sampling (Algorithm 2), ``n`` chains;
* ``power-inf`` -- its greedy Power(∞) variant;
* ``power-scalable`` -- the scalable power sampler (top-K candidates, ``M`` rollouts, jackknife;
  arXiv 2601.21590), ``n`` independent completions;
* ``power-smc`` -- Power-SMC with ``N`` = ``particles``; see below;
* ``bon`` -- self-reward Best-of-N over ``candidates`` base samples.

Power-SMC returns ``N`` weighted particles ``(y_i, W_i)``, not draws.  Here each of the
``n`` completions comes from its own independent SMC run, as one particle ``y_I`` with
``P(I = i) = W_i`` (the normalised final weights), drawn with the caller's generator:
an exact draw from the run's particle approximation ``π̂_N = Σ_i W_i δ_{y_i}`` of ``π_α``,
and the ``n`` completions are i.i.d. like every other method's (one run resampled ``n``
times would repeat particles).  Its law tends to ``π_α`` as ``N → ∞``; at finite ``N`` it
is that of ``exact.power_smc``'s runs with the same rule (when no intermediate
resampling happens, as on a two-token horizon with the tempered proposal, it is
``exact.sir_output_distribution`` with the ``"temperature"`` proposal).  The result,
:class:`llm.SMCDraws`, keeps every run (:class:`llm.SMCCompletions`: its weighted
particles, ``log Ẑ`` and resampling count) and gives each run's ``log_evidence`` and
``n_resamples``.  The cost fields add up over the ``n`` runs.

:func:`plan_work` gives a method's planned work before it runs (forward passes and their rows,
:class:`Workload`); ``python -m llm sample`` prints it with a calibrated time estimate.

Every method returns its sampler's typed result (:class:`llm.TemperatureCompletions`,
:class:`llm.MHCompletions`, :class:`llm.ScalableCompletions`, :class:`llm.SMCDraws`,
:class:`llm.BestOfNCompletions`), each a :class:`llm.Completions`.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import MISSING, dataclass, fields
from types import MappingProxyType
from typing import Callable, Mapping, Sequence

import torch

from exact._validate import alpha_argument, check_alpha, count_argument, integer_argument

from .model import LanguageModel
from .samplers import (
    Completions,
    SMCDraws,
    sample_best_of_n,
    sample_power_inf,
    sample_power_mh,
    sample_power_scalable,
    sample_power_smc,
    sample_standard,
    sample_temperature,
)

__all__ = [
    "CALIBRATION_ROWS", "METHODS", "Method", "SamplerConfig", "Workload", "add_arguments", "calibrate_passes",
    "config_from_args", "draw", "plan_work",
]

#: The four settings every teacher record carried before the registry knew the scalable
#: sampler and Power-SMC; they stay in :meth:`SamplerConfig.settings` so older files resume.
_HISTORICAL_SETTINGS = ("max_new_tokens", "block_size", "n_mcmc", "candidates")


@dataclass(frozen=True)
class SamplerConfig:
    """How completions are drawn: a method of :data:`METHODS` and its parameters.

    ``alpha``: power exponent ``α`` (``temperature``: ``τ = 1/α``; the MH proposal and the
    Power-SMC proposal also run at temperature ``1/α``); ``max_new_tokens``: completion cap
    (the paper: 3072; ``None``: a toy model's horizon); ``block_size`` ``B`` and ``n_mcmc``
    of Algorithm 2 (the paper: 192 and 10); ``candidates``: ``N`` of Best-of-N;
    ``top_k`` ``K``, ``rollouts`` ``M``, ``rollout_horizon`` ``H`` (``None``: to the end)
    and ``jackknife`` of the scalable sampler; ``particles``: ``N`` of Power-SMC.
    """

    method: str = "power-mh"
    alpha: float = 4.0
    max_new_tokens: int | None = 32
    block_size: int = 8
    n_mcmc: int = 2
    candidates: int = 4
    top_k: int = 8
    rollouts: int = 8
    rollout_horizon: int | None = None
    jackknife: bool = True
    particles: int = 16

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose from {', '.join(METHODS)}")
        check_alpha(self.alpha)  # 0 < α ≤ exact.MAX_ALPHA: NaN, inf and α ≥ 1e4 are refused, not sampled wrongly
        for name in ("max_new_tokens", "block_size", "n_mcmc", "candidates", "top_k", "rollouts", "particles"):
            value = getattr(self, name)
            if value is None and name == "max_new_tokens":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.rollout_horizon is not None and (
            isinstance(self.rollout_horizon, bool) or not isinstance(self.rollout_horizon, int) or self.rollout_horizon < 0
        ):
            raise ValueError(f"rollout_horizon must be None or an integer >= 0, got {self.rollout_horizon!r}")
        if not isinstance(self.jackknife, bool):
            raise ValueError(f"jackknife must be True or False, got {self.jackknife!r}")
        if self.method == "power-scalable" and self.jackknife and self.rollouts < 2:
            raise ValueError(f"the jackknife needs rollouts >= 2, got {self.rollouts} (or turn it off: jackknife=False)")

    def settings(self) -> dict:
        """The settings that identify a run besides ``method`` and ``alpha`` (what a teacher file records).

        ``max_new_tokens``, ``block_size``, ``n_mcmc`` and ``candidates`` always (as before the
        registry grew), plus the fields the method itself reads (:attr:`Method.reads`).
        """
        names = _HISTORICAL_SETTINGS + tuple(n for n in METHODS[self.method].reads if n not in _HISTORICAL_SETTINGS)
        return {name: getattr(self, name) for name in names}


@dataclass(frozen=True)
class Method:
    """One registered method: its ``name``, Table 1 ``label``, the :class:`SamplerConfig` fields it
    ``reads`` (besides ``alpha`` and ``max_new_tokens``) and ``run(lm, prompt, n, config, generator, progress)``."""

    name: str
    label: str
    reads: tuple[str, ...]
    run: Callable[[LanguageModel, list[int], int, SamplerConfig, torch.Generator, bool], Completions]


def _standard(lm, prompt, n, c, generator, progress):
    return sample_standard(lm, prompt, n, generator, c.max_new_tokens)


def _temperature(lm, prompt, n, c, generator, progress):
    return sample_temperature(lm, prompt, n, 1.0 / c.alpha, generator, c.max_new_tokens)


def _power_mh(lm, prompt, n, c, generator, progress):
    return sample_power_mh(lm, prompt, n, c.alpha, generator, c.block_size, c.n_mcmc, c.max_new_tokens, progress=progress)


def _power_inf(lm, prompt, n, c, generator, progress):
    return sample_power_inf(lm, prompt, n, c.alpha, generator, c.block_size, c.n_mcmc, c.max_new_tokens, progress=progress)


def _power_scalable(lm, prompt, n, c, generator, progress):
    return sample_power_scalable(
        lm, prompt, n, c.alpha, generator, c.top_k, c.rollouts, c.rollout_horizon, c.jackknife, c.max_new_tokens,
        progress=progress,
    )


def _power_smc(lm, prompt, n, c, generator, progress) -> SMCDraws:
    """``n`` independent Power-SMC runs, each giving one particle drawn by its final weight (module docstring)."""
    runs, picks = [], []
    for _ in range(n):
        run = sample_power_smc(lm, prompt, c.particles, c.alpha, generator, c.max_new_tokens)
        runs.append(run)
        picks.append(run.pick(generator))
    return SMCDraws(
        [run.tokens[i] for run, i in zip(runs, picks)],
        [run.logprobs[i] for run, i in zip(runs, picks)],
        sum(run.model_calls for run in runs),
        sum(run.forward_tokens for run in runs),
        sum(run.required_tokens for run in runs),
        sum(run.seconds for run in runs),
        runs=tuple(runs),
    )


def _best_of_n(lm, prompt, n, c, generator, progress):
    return sample_best_of_n(lm, prompt, n, c.candidates, generator, max_new_tokens=c.max_new_tokens)


_SCALABLE = ("top_k", "rollouts", "rollout_horizon", "jackknife")

#: Every method by name (iterating gives the names in the order of the module docstring).
METHODS: Mapping[str, Method] = MappingProxyType({
    m.name: m
    for m in (
        Method("standard", "Standard", (), _standard),
        Method("temperature", "Temperature", (), _temperature),
        Method("power-mh", "Power", ("block_size", "n_mcmc"), _power_mh),
        Method("power-inf", "Power(∞)", ("block_size", "n_mcmc"), _power_inf),
        Method("power-scalable", "Power (scalable)", _SCALABLE, _power_scalable),
        Method("power-smc", "Power-SMC", ("particles",), _power_smc),
        Method("bon", "BoN", ("candidates",), _best_of_n),
    )
})


def draw(
    lm: LanguageModel,
    prompt: Sequence[int],
    n: int,
    config: SamplerConfig,
    generator: torch.Generator,
    progress: bool = False,
) -> Completions:
    """``n`` completions of ``prompt`` by ``config.method`` (all randomness from ``generator``).

    ``progress`` shows the MH and scalable samplers' progress bars.
    """
    if not isinstance(config, SamplerConfig):
        raise ValueError(f"config must be a SamplerConfig, got {type(config).__name__}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    return METHODS[config.method].run(lm, [int(t) for t in prompt], n, config, generator, progress)


@dataclass(frozen=True)
class Workload:
    """The forward passes a method plans for ``n`` completions of ``steps`` tokens (no EOS), before it runs.

    ``passes``: forward passes (decode steps; each prefill of the prompt is one of them);
    ``wide_passes`` of them carry ``rows`` rows (the largest batch the method uses), the other
    ``passes - wide_passes`` one row; ``forward_rows = (passes - wide_passes) + wide_passes · rows``,
    the rows pushed through the model (:attr:`llm.Completions.forward_tokens` on a ``llm.ToyModel``,
    where a prefill is one row; a real model's prefill adds the prompt's other tokens).  ``exact``:
    the counts are exact without EOS (else: expectations, the MH restart position being random).
    An EOS can only shorten the run: every count is an upper bound (in expectation for MH).
    """

    method: str
    n: int
    steps: int
    passes: float
    rows: int
    wide_passes: float
    forward_rows: float
    exact: bool

    def seconds(self, one_row: float, wide: float) -> float:
        """Estimated wall-clock: ``(passes - wide_passes) · one_row + wide_passes · wide`` (seconds per pass)."""
        return (self.passes - self.wide_passes) * one_row + self.wide_passes * wide


def _mh_chain_passes(steps: int, block_size: int, n_mcmc: int) -> float:
    """Expected forward passes of one MH chain (Algorithm 2 of arXiv 2605.04542; arXiv 2510.14901), no EOS.

    Block ``k`` ends at ``L_k = min((k+1)B, T)``; extending to it decodes ``L_k - L_{k-1}`` tokens
    (``T`` in all, the first pass being the prompt's prefill).  Each of the ``n_mcmc`` proposals
    restarts at ``m ~ U{1..L_k}`` and regenerates ``L_k - m + 1`` tokens, one pass each, mean
    ``E[L_k - m + 1] = (L_k + 1)/2``.  So ``E[passes] = T + n_mcmc Σ_k (L_k + 1)/2``.
    """
    ends = [min((k + 1) * block_size, steps) for k in range(-(-steps // block_size))]
    return steps + n_mcmc * sum((end + 1) / 2 for end in ends)


def plan_work(config: SamplerConfig, n: int, steps: int) -> Workload:
    """The :class:`Workload` of ``n`` completions of ``steps`` tokens (the resolved completion cap) by ``config``.

    ``T = steps``; each sampler prefills the prompt once (one row; ``n`` completions share it
    except Power-SMC's independent runs) and decodes from forks of it:

    * ``standard`` / ``temperature``: ``T`` passes, ``T - 1`` of them with ``n`` rows;
    * ``bon``: the same with ``n · N`` rows (``N`` = ``candidates``);
    * ``power-smc``: per run ``T`` passes, ``T - 1`` with ``N`` = ``particles`` rows; ``n`` runs;
    * ``power-mh`` / ``power-inf``: per chain ``E = T + n_mcmc Σ_k (L_k + 1)/2`` passes in
      expectation (:func:`_mh_chain_passes`); the ``n`` chains are batched (``n`` rows, as the HF
      engine's continuous batching does; an engine serving one chain at a time, like
      ``llm.ToyModel``, makes ``forward_rows`` passes of one row);
    * ``power-scalable`` (arXiv 2601.21590): per token ``t`` one top-K pass of one row, then
      ``h_t = min(H, T - t - 1)`` rollout passes of ``K · M`` rows (``K`` = ``top_k``, at most
      the vocabulary; ``M`` = ``rollouts``; ``H`` = ``rollout_horizon``, default ``T``).
    """
    if not isinstance(config, SamplerConfig):
        raise ValueError(f"config must be a SamplerConfig, got {type(config).__name__}")
    for name, value in (("n", n), ("steps", steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    c, T = config, steps
    if c.method in ("standard", "temperature", "bon"):
        rows = n * (c.candidates if c.method == "bon" else 1)
        passes, wide, exact = T, T - 1, True
    elif c.method == "power-smc":
        rows, passes, wide, exact = c.particles, n * T, n * (T - 1), True
    elif c.method in ("power-mh", "power-inf"):
        chain = _mh_chain_passes(T, c.block_size, c.n_mcmc)
        rows, passes, wide, exact = n, chain, chain - 1, False
    else:  # power-scalable
        horizon = T if c.rollout_horizon is None else c.rollout_horizon
        rollout_passes = sum(min(horizon, T - t - 1) for t in range(T)) if c.top_k > 1 else 0
        rows, wide, exact = c.top_k * c.rollouts, n * rollout_passes, True
        passes = n * T - (n - 1) + wide  # the n completions share the prompt's prefill
    if wide == 0:
        rows = 1
    single = passes - wide
    return Workload(c.method, n, T, passes, rows, wide, single + wide * rows, exact)


#: The widest batch :func:`calibrate_passes` times; wider passes are extrapolated linearly from it.
CALIBRATION_ROWS = 8


def calibrate_passes(lm: LanguageModel, prompt: Sequence[int], rows: int) -> tuple[float, float]:
    """Estimated seconds of one decode pass of 1 row and of ``rows`` rows after ``prompt``.

    The prompt is prefilled once (untimed); two forks of it append its most probable next token
    and compute their next-token log-probs with the KV cache, as a sampler's decode step does: one
    of 1 row (``t_1``) and one of ``w = min(rows, CALIBRATION_ROWS)`` rows (``t_w``).  A wider pass is
    extrapolated linearly in the rows, ``t_rows = t_1 + (t_w - t_1)(rows - 1)/(w - 1)`` (compute-bound
    on a CPU; it errs long on a GPU, where rows come nearly free), which keeps the calibration to a few
    small passes.  Where no token fits after the prompt (a toy one step from its horizon) the prompt's
    own next-token pass is timed instead.  The model's counter counts these passes.
    """
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ValueError(f"rows must be a positive integer, got {rows!r}")
    prompt = [int(t) for t in prompt]
    root = lm.start([prompt])
    root.prefill()
    token = int(root.logprobs()[0].argmax())
    width = min(rows, CALIBRATION_ROWS)
    seconds = []
    for batch in dict.fromkeys((1, width)):
        try:
            state = root.fork([0] * batch)
            state.append(torch.full((batch,), token, dtype=torch.long))
            start = time.perf_counter()
            state.logprobs()
        except ValueError:
            state = lm.start([prompt] * batch)
            start = time.perf_counter()
            state.logprobs()
        seconds.append(time.perf_counter() - start)
    one = seconds[0]
    if rows == 1:
        return one, one
    return one, one + (seconds[-1] - one) * (rows - 1) / (width - 1)


#: Command-line help of each :class:`SamplerConfig` field (``--max-new-tokens`` for ``max_new_tokens``, ...).
_HELP = {
    "alpha": "power exponent α (temperature: τ = 1/α)",
    "max_new_tokens": "completion cap (paper: 3072)",
    "block_size": "MH block size B (paper: 192)",
    "n_mcmc": "MH steps per block (paper: 10)",
    "candidates": "Best-of-N: candidates N",
    "top_k": "scalable: candidates K",
    "rollouts": "scalable: rollouts M per candidate",
    "rollout_horizon": "scalable: rollout horizon H (default: to the end)",
    "particles": "Power-SMC: particles N (one run per completion)",
}


#: Command-line type of each option (the same rules as :meth:`SamplerConfig.__post_init__`, checked while
#: parsing so a bad value is argparse's one-line error): α in (0, MAX_ALPHA], counts >= 1, horizon >= 0.
_ARGUMENT_TYPES = {"alpha": alpha_argument, "rollout_horizon": integer_argument(0)}


def add_arguments(parser: argparse.ArgumentParser, with_method: bool = True, **defaults) -> None:
    """Options for every :class:`SamplerConfig` field; ``defaults`` override the dataclass defaults by field name.

    ``--method`` (only if ``with_method``) chooses among :data:`METHODS` (``defaults["method"] = None``:
    required); ``jackknife`` becomes ``--no-jackknife``.  :func:`config_from_args` reads them back.
    """
    for spec in fields(SamplerConfig):
        default = defaults.get(spec.name, spec.default if spec.default is not MISSING else None)
        if spec.name == "method":
            if with_method:
                parser.add_argument("--method", choices=list(METHODS), default=default, required=default is None)
        elif spec.name == "jackknife":
            parser.add_argument("--no-jackknife", action="store_true", help="scalable: plain ratio estimator")
        else:
            parser.add_argument("--" + spec.name.replace("_", "-"), type=_ARGUMENT_TYPES.get(spec.name, count_argument),
                                default=default, help=_HELP[spec.name])


def config_from_args(args: argparse.Namespace, method: str | None = None) -> SamplerConfig:
    """The :class:`SamplerConfig` of the options of :func:`add_arguments` (``method`` overrides ``args.method``)."""
    values = {spec.name: getattr(args, spec.name) for spec in fields(SamplerConfig) if spec.name not in ("method", "jackknife")}
    return SamplerConfig(method=args.method if method is None else method, jackknife=not args.no_jackknife, **values)
