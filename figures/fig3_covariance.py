"""Figure 3: the gain in a synthetic reward r_λ from power sampling grows with Cov(r_λ, r_self) (Prop. 4).

The base model draws standard and power-MH (α = 4) completions on held-out
prompts over several seeds.  All completions are pooled to z-score the
length-normalised self-reward and the SHA-256 hash reward (Appendix B.1);
``r_λ = λ z_self + sqrt(1-λ²)(z_r + ε)`` for ``λ`` on a grid over ``[-1, 1]``.
For each ``λ``: the gain = mean ``r_λ`` under power minus under standard
sampling (per seed; mean ± sd over seeds), against the empirical
``Cov(r_λ, r_self)`` over the *standard* completions.  Prop. 4 predicts a gain
that grows with the covariance (roughly linearly for a small α-step).  With at
least 3 seeds the summary also holds ``∂R/∂α`` of the *accuracy* at α = 4 from
the power samples (:func:`llm.slope.estimate_slope`: covariance with the total
log-likelihood, and self-normalised reweighting, each with a jackknife SE).
"""

from __future__ import annotations

import numpy as np

from . import _style

FIGURE_ID = "3"
CAPTION = "Empirical illustration of Prop. 4: gain in synthetic reward r_lambda of power over standard sampling against Cov(r_lambda, r_self), lambda in [-1, 1]."


def compute(seed: int = 0, scale: str = "tiny", model: str | None = None) -> dict:
    from llm.experiments.evaluate import evaluate
    from llm.experiments.tasks import synthetic_rewards
    from llm.methods import SamplerConfig

    from . import _llm

    s, base, task, problems, seeds = _llm.evaluation_setup(scale, model, seed)
    standard = evaluate(base, task, problems, SamplerConfig("standard", _llm.ALPHA, s["max_new_tokens"]), seeds, "Base")
    power = evaluate(base, task, problems, SamplerConfig("power-mh", _llm.ALPHA, s["max_new_tokens"], s["block_size"], s["n_mcmc"]),
                     seeds, "Base")
    texts = [t for row in standard.samples["completions"] for t in row] + [t for row in power.samples["completions"] for t in row]
    r_self = np.concatenate([standard.samples["r_self"].ravel(), power.samples["r_self"].ravel()])
    lambdas = np.array(s["lambdas"], dtype=float)
    r = synthetic_rewards(texts, r_self, lambdas, seed=seed)  # (L, 2·P·S), pooled z-scores
    half = standard.samples["r_self"].size
    shape = standard.samples["r_self"].shape  # (P, S)
    r_standard, r_power = r[:, :half].reshape(len(lambdas), *shape), r[:, half:].reshape(len(lambdas), *shape)
    gain_per_seed = r_power.mean(axis=1) - r_standard.mean(axis=1)  # (L, S)
    self_standard = r_self[:half]
    cov = np.array([np.cov(r[k, :half], self_standard)[0, 1] for k in range(len(lambdas))])
    rows = [{"lambda": float(lam), "cov_r_lambda_r_self": float(cov[k]), "gain_mean": float(gain_per_seed[k].mean()),
             "gain_sd": float(gain_per_seed[k].std(ddof=1)) if shape[1] > 1 else float("nan")}
            for k, lam in enumerate(lambdas)]
    accuracy_slope = None
    if shape[1] >= 3 and "log_likelihood" in power.samples:  # Prop. 4 on the real model: ∂R/∂α of the accuracy at α = 4 from the power samples, two ways
        from llm.slope import estimate_slope

        groups = np.repeat(np.arange(shape[0]), shape[1])
        accuracy_slope = estimate_slope(power.samples["r_star"].ravel(), power.samples["log_likelihood"].ravel(),
                                        step=0.05, groups=groups)._asdict()
    slope = float(np.polyfit(cov, gain_per_seed.mean(axis=1), 1)[0]) if len(lambdas) > 1 else float("nan")
    return {"scale": scale, "rows": rows, "fit_slope": slope, "accuracy_slope_at_alpha4": accuracy_slope,
            "r_self_standard": standard.r_self_mean, "r_self_power": power.r_self_mean}


def plot(data):
    fig, ax = _style.new_figure(1, height=3.0, width=4.0)
    cov = np.array([r["cov_r_lambda_r_self"] for r in data["rows"]])
    gain = np.array([r["gain_mean"] for r in data["rows"]])
    sd = np.nan_to_num(np.array([r["gain_sd"] for r in data["rows"]], dtype=float))
    ax.errorbar(cov, gain, yerr=sd, marker="o", capsize=3, lw=0, elinewidth=1.2)
    ax.axhline(0, color="0.5", lw=0.8, ls=":")
    ax.axvline(0, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel(r"$\mathrm{Cov}(r_\lambda, r_{\mathrm{self}})$ (standard samples)")
    ax.set_ylabel(r"gain in $r_\lambda$: power $-$ standard")
    return fig


def tables(data) -> dict:
    return {"gain": data["rows"]}


def summary(data) -> dict:
    return {"scale": data["scale"], "rows": data["rows"], "fit_slope": data["fit_slope"],
            "accuracy_slope_at_alpha4": data["accuracy_slope_at_alpha4"],
            "r_self_standard": data["r_self_standard"], "r_self_power": data["r_self_power"]}


def headline(data) -> str:
    return f"3 ({data['scale']}): gain in r_lambda vs Cov(r_lambda, r_self): least-squares slope {data['fit_slope']:.3f}"
