"""Exact error of the practical power samplers against their compute (issue 6; toolkit's own figure).

On one enumerable model (``V = 3``, ``T = 4``, Dirichlet(1) conditionals, ``α = 4``)
every sampler's *output distribution* is computed (exactly, or by Monte Carlo
with standard errors for Power-SMC) and compared with ``π_α``:

* temperature (Eq. 5): one point, ``T`` token evaluations;
* MH, Algorithm 2, over ``N_MCMC`` for ``B = T`` and ``B = T/2``; Power(∞) (``B = T``);
* scalable power sampling (seed 002), ``K = V``, over ``M``, plain and jackknife (clipped);
* SIR (base proposal) and Power-SMC (temperature proposal, ESS/N < 0.5 resampling) over ``N``.

Power-SMC's TV is estimated from ``R`` runs; the dotted line is its Monte Carlo
error (``½ Σ_y se(y)``), below which the curve is noise.  Panel (a): TV distance; panel (b): ``KL(P ‖ π_α)``; x: expected model token
evaluations per output.  ``summary`` names the closest sampler at a few equal budgets
(log-linear interpolation of each curve in ``log cost``).
"""

from __future__ import annotations

import numpy as np

import exact
from exact import samplers as S

from . import _style

FIGURE_ID = "samplers"
CAPTION = (
    "Exact distance to pi_alpha (TV, KL) vs cost in model token evaluations for temperature, MH (B=T, B=T/2), "
    "Power(inf), scalable MC lookahead (plain / jackknife), SIR and Power-SMC on a V=3, T=4 model at alpha=4."
)
VOCAB_SIZE, HORIZON, ALPHA = 3, 4, 4.0
N_MCMC = (1, 2, 4, 8, 16, 32, 64, 128)
ROLLOUTS = (1, 2, 4, 8, 16)
PARTICLES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
#: Power-SMC runs per N: about 2^18 particles in all (at least 1000 runs), so its Monte Carlo error shrinks with N too.
SMC_PARTICLE_BUDGET, SMC_MIN_RUNS = 2**18, 1000
BUDGETS = (16, 64, 256)
FAMILIES = (
    "temperature", "MH B=T", "MH B=T/2", "Power(inf)", "scalable", "scalable+jackknife", "SIR", "Power-SMC",
)


def _row(model, family, setting, value, dist):
    d = S.distances_to_power(model, ALPHA, dist.probabilities)
    return {
        "family": family, "setting": setting, "value": value, "cost": dist.expected_cost, "tv": d.tv, "kl": d.kl,
        "self_reward": d.self_reward, "exact": dist.exact, "mc_error": 0.5 * float(dist.standard_errors.sum()),
    }


def compute(seed: int = 0, **options) -> dict:
    """Distances of every sampler configuration to ``π_α`` (rows of dicts)."""
    model = exact.TabularAR.random(VOCAB_SIZE, HORIZON, seed=seed)
    rng = np.random.default_rng(seed)
    evidence = []
    rows = [_row(model, "temperature", "", 0, S.temperature_output_distribution(model, ALPHA))]
    for n in N_MCMC:
        rows.append(_row(model, "MH B=T", "n_mcmc", n, S.mh_output_distribution(model, ALPHA, HORIZON, n)))
        rows.append(_row(model, "MH B=T/2", "n_mcmc", n, S.mh_output_distribution(model, ALPHA, HORIZON // 2, n)))
        rows.append(_row(model, "Power(inf)", "n_mcmc", n, S.mh_output_distribution(model, ALPHA, HORIZON, n, greedy=True)))
    for m in ROLLOUTS:
        rows.append(_row(model, "scalable", "M", m, S.scalable_output_distribution(model, ALPHA, VOCAB_SIZE, m, False)))
        if m >= 2:
            dist = S.scalable_output_distribution(model, ALPHA, VOCAB_SIZE, m, True, rng=rng, n_replications=2000)
            rows.append(_row(model, "scalable+jackknife", "M", m, dist))
    for n in PARTICLES:
        rows.append(_row(model, "SIR", "N", n, S.sir_output_distribution(model, ALPHA, n, "base")))
        runs = S.power_smc(model, ALPHA, n, max(SMC_MIN_RUNS, SMC_PARTICLE_BUDGET // n), rng)
        rows.append(_row(model, "Power-SMC", "N", n, S.smc_output_distribution(runs, model.vocab_sizes)))
        error = runs.log_evidence - exact.log_partition(model, ALPHA)
        evidence.append({"N": n, "runs": len(error), "mean_log_evidence_error": float(error.mean()),
                         "sd_log_evidence_error": float(error.std(ddof=1)),
                         "relative_bias_of_Z_hat": float(np.exp(error).mean() - 1),
                         "se_of_relative_bias": float(np.exp(error).std(ddof=1) / np.sqrt(len(error))),
                         "mean_resampling_events": float(runs.n_resampling.mean())})
    power = exact.power_joint(model, ALPHA)
    reward = float(np.sum(power * model.log_joint()))
    return {"rows": rows, "alpha": ALPHA, "model": f"TabularAR.random({VOCAB_SIZE}, {HORIZON}, seed={seed})",
            "target_self_reward": reward, "log_evidence": evidence,
            "sis_ess_fraction": {p: S.sis_ess_fraction(model, ALPHA, p) for p in S.SMC_PROPOSALS}}


def _curve(data, family):
    rows = [r for r in data["rows"] if r["family"] == family]
    return np.array([r["cost"] for r in rows]), np.array([r["tv"] for r in rows]), np.array([r["kl"] for r in rows])


def plot(data):
    fig, (ax_tv, ax_kl) = _style.new_figure(2, height=3.0)
    palette = _style.sns.color_palette("colorblind", len(FAMILIES))
    markers = dict(zip(FAMILIES, "*osDv^Xp"))
    for color, family in zip(palette, FAMILIES):
        cost, tv, kl = _curve(data, family)
        style = {"color": color, "marker": markers[family], "ms": 4 if family != "temperature" else 9, "lw": 1.3, "label": family}
        ax_tv.loglog(cost, tv, **style)
        ax_kl.loglog(cost, np.maximum(kl, 1e-12), **style)
        if family == "Power-SMC":  # Monte Carlo error of the TV estimate (half the summed standard errors)
            noise = np.array([r["mc_error"] for r in data["rows"] if r["family"] == family])
            ax_tv.loglog(cost, noise, color=color, lw=0.8, ls=":", label="Power-SMC MC error")
    ax_tv.set_ylabel(r"TV$(P, \pi_\alpha)$")
    ax_kl.set_ylabel(r"KL$(P \,\|\, \pi_\alpha)$ [nats]")
    for axis in (ax_tv, ax_kl):
        axis.set_xlabel("expected model token evaluations per output")
    _style.panel_title(ax_tv, "a", "total variation")
    _style.panel_title(ax_kl, "b", "Kullback-Leibler")
    fig.legend(*ax_tv.get_legend_handles_labels(), loc="outside upper center", ncols=4, frameon=False)
    return fig


def tables(data) -> dict:
    return {"distances": data["rows"], "power_smc_log_evidence": data["log_evidence"]}


def _at_budget(data, budget):
    out = {}
    for family in FAMILIES:
        cost, tv, _ = _curve(data, family)
        if family == "temperature":
            out[family] = float(tv[0]) if cost[0] <= budget else None
            continue
        affordable = cost <= budget * (1 + 1e-9)
        if not affordable.any():
            out[family] = None
        elif budget >= cost.max():
            out[family] = float(tv[np.argmax(cost)])
        else:
            out[family] = float(np.exp(np.interp(np.log(budget), np.log(cost), np.log(tv))))
    return out


def summary(data) -> dict:
    budgets = {}
    for budget in BUDGETS:
        tvs = _at_budget(data, budget)
        valid = {k: v for k, v in tvs.items() if v is not None}
        best = min(valid, key=valid.get)
        budgets[str(budget)] = {"tv": tvs, "closest": best}
    mh_block_cost = {str(b): budgets[str(b)]["tv"]["MH B=T/2"] / budgets[str(b)]["tv"]["MH B=T"] for b in BUDGETS}
    return {"model": data["model"], "alpha": data["alpha"], "at_budget": budgets,
            "mh_tv_ratio_half_blocks_to_full_block": mh_block_cost,
            "sis_ess_fraction": data["sis_ess_fraction"], "power_smc_log_evidence": data["log_evidence"],
            "target_self_reward": data["target_self_reward"],
            "max_mc_error": max(r["mc_error"] for r in data["rows"])}


def headline(data) -> str:
    info = summary(data)["at_budget"]
    parts = [f"{b} tok: {v['closest']} (TV {v['tv'][v['closest']]:.3g})" for b, v in info.items()]
    return "samplers: closest to pi_alpha at equal cost -- " + "; ".join(parts)
