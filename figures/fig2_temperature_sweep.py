"""Figure 2: sharper power sampling raises both r_self and r* -- both against the temperature parameter τ = 1/α.

For each ``α`` of the scale's grid (``α = 1`` is standard sampling, exactly
``π_1 = π``), the base model draws power-MH completions (proposal temperature
``1/α``) on held-out arithmetic prompts over several seeds; each point is the
mean over seeds of the per-seed mean ``r_self`` (length-normalised) or ``r*``
(accuracy), with ± sd over seeds.  See :mod:`figures._llm` for the scales.
"""

from __future__ import annotations

import numpy as np

from . import _style

FIGURE_ID = "2"
CAPTION = "Sharper power sampling raises both r_self and r*: mean self-reward and accuracy against tau = 1/alpha (base model, arithmetic)."


def compute(seed: int = 0, scale: str = "tiny", model: str | None = None) -> dict:
    from llm.experiments.evaluate import evaluate
    from llm.methods import SamplerConfig

    from . import _llm

    s, base, task, problems, seeds = _llm.evaluation_setup(scale, model, seed)
    rows = []
    for alpha in s["alphas"]:
        method = "standard" if alpha == 1.0 else "power-mh"
        config = SamplerConfig(method, float(alpha), s["max_new_tokens"], s["block_size"], s["n_mcmc"])
        row = evaluate(base, task, problems, config, seeds, "Base")
        rows.append({"alpha": float(alpha), "tau": 1.0 / alpha, "r_self_mean": row.r_self_mean, "r_self_sd": row.r_self_sd,
                     "r_star_mean": row.r_star_mean, "r_star_sd": row.r_star_sd, "seconds": row.seconds})
    return {"scale": scale, "rows": rows}


def plot(data):
    fig, (ax_self, ax_star) = _style.new_figure(2, height=2.6)
    tau = np.array([r["tau"] for r in data["rows"]])
    for axis, key, label in ((ax_self, "r_self", r"$r_{\mathrm{self}}$ (mean log-prob per token)"),
                             (ax_star, "r_star", r"$r^\star$ (accuracy)")):
        mean = np.array([r[f"{key}_mean"] for r in data["rows"]])
        sd = np.nan_to_num(np.array([r[f"{key}_sd"] for r in data["rows"]], dtype=float))
        axis.errorbar(tau, mean, yerr=sd, marker="o", capsize=3, lw=1.3)
        axis.set_xlabel(r"temperature parameter $\tau = 1/\alpha$")
        axis.set_ylabel(label)
    _style.panel_title(ax_self, "a", "self-reward")
    _style.panel_title(ax_star, "b", "true reward")
    return fig


def tables(data) -> dict:
    return {"sweep": data["rows"]}


def summary(data) -> dict:
    rows = data["rows"]
    return {"scale": data["scale"], "rows": rows,
            "r_self_gain_sharpest_vs_standard": rows[-1]["r_self_mean"] - rows[0]["r_self_mean"],
            "r_star_gain_sharpest_vs_standard": rows[-1]["r_star_mean"] - rows[0]["r_star_mean"]}


def headline(data) -> str:
    s = summary(data)
    return (f"2 ({data['scale']}): from tau=1 to tau={data['rows'][-1]['tau']:.3g}, r_self {s['r_self_gain_sharpest_vs_standard']:+.3f}, "
            f"r* {s['r_star_gain_sharpest_vs_standard']:+.3f}")
