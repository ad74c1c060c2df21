"""Figure S.10 (Appendix B.2.5): Monte Carlo ESS/N at ``α = 4`` against the particle budget.

For each proposal and budget ``N`` we draw ``N`` first tokens ``i ~ q``, form
``W_1(i) = π_pow,α(i)/q(i)`` and the self-normalised ``ESS/N = (Σ W)²/(N Σ W²)``
(:func:`exact.sampled_ess_fraction`), repeated over ``R`` independent replicates
(default 200; ``--option n_replicates=...``).  Points: mean over replicates, error
bars: one standard deviation of a replicate; dashed lines: the exact values of S.9.
Each (proposal, N) cell has its own stream from ``SeedSequence(seed).spawn``.
"""

from __future__ import annotations

import numpy as np

import exact

from . import _style

FIGURE_ID = "S10"
CAPTION = (
    "Monte Carlo ESS/N at alpha=4 vs particle budget N: mean +- 1 sd over replicates of the self-normalised ESS "
    "for each proposal, against the exact values; concentrates as N grows, ordering preserved."
)
ALPHA = 4.0
PROPOSALS = ("optimal", "temperature", "base", "uniform")
BUDGETS = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


def compute(seed: int = 0, n_replicates: int = 200, **options) -> dict:
    """Sampled ESS/N, shape ``(len(PROPOSALS), len(BUDGETS), n_replicates)``, and the exact values."""
    model = exact.zipf_suffix_model()
    streams = np.random.SeedSequence(seed).spawn(len(PROPOSALS) * len(BUDGETS))
    sampled = np.empty((len(PROPOSALS), len(BUDGETS), int(n_replicates)))
    for a, name in enumerate(PROPOSALS):
        for b, budget in enumerate(BUDGETS):
            rng = np.random.default_rng(streams[a * len(BUDGETS) + b])
            sampled[a, b] = exact.sampled_ess_fraction(model, (), ALPHA, name, budget, rng, int(n_replicates))
    exact_ess = np.array([exact.incremental_weight_stats(model, (), ALPHA, name).ess_fraction for name in PROPOSALS])
    return {
        "alpha": ALPHA, "seed": seed, "proposals": list(PROPOSALS), "budgets": np.array(BUDGETS),
        "n_replicates": int(n_replicates), "sampled": sampled, "exact": exact_ess,
        "mean": sampled.mean(axis=2), "sd": sampled.std(axis=2, ddof=1),
    }


def plot(data):
    fig, ax = _style.new_figure(1, height=3.0, width=4.6)
    budgets = data["budgets"]
    shift = {"optimal": 1.0, "temperature": 0.96, "base": 1.0, "uniform": 1.04}  # de-overlap error bars
    for a, name in enumerate(data["proposals"]):
        colour = _style.PROPOSAL_COLORS[name]
        ax.axhline(data["exact"][a], color=colour, lw=1.0, ls="--", alpha=0.9)
        ax.errorbar(budgets * shift[name], data["mean"][a], yerr=data["sd"][a], color=colour,
                    marker=_style.PROPOSAL_MARKERS[name], ms=3.5, lw=1.2, capsize=2.2, label=_style.PROPOSAL_SHORT[name])
    ax.plot([], [], color="0.3", ls="--", lw=1.0, label="exact (Fig. S.9)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("particle budget $N$ (tokens drawn)")
    ax.set_ylabel(r"ESS$/N$ at $\alpha$ = 4")
    handles, labels = ax.get_legend_handles_labels()
    order = [labels.index(label) for label in labels if not label.startswith("exact")] + [labels.index("exact (Fig. S.9)")]
    ax.legend([handles[k] for k in order], [labels[k] for k in order], loc="center left", bbox_to_anchor=(1.01, 0.5))
    ticks = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_xticks([10, 100, 1000, 10000])
    ax.set_title(f"mean ± 1 sd over {data['n_replicates']} replicates", loc="left")
    return fig


def tables(data) -> dict:
    rows = []
    for a, name in enumerate(data["proposals"]):
        for b, budget in enumerate(data["budgets"]):
            rows.append({"proposal": name, "n_particles": budget, "replicates": data["n_replicates"],
                         "mean_ess_fraction": data["mean"][a, b], "sd_ess_fraction": data["sd"][a, b],
                         "standard_error": data["sd"][a, b] / np.sqrt(data["n_replicates"]),
                         "exact_ess_fraction": data["exact"][a]})
    return {"budget": rows}


def summary(data) -> dict:
    deviation = np.abs(data["mean"] - data["exact"][:, None])
    # the oracle's weights are all equal: its sd is rounding (~1e-16), so it is judged by |mean - exact| alone
    spread = data["sd"] > 1e-12
    exact_order = list(np.argsort(-data["exact"], kind="stable"))
    order_kept = [list(np.argsort(-data["mean"][:, b], kind="stable")) == exact_order for b in range(len(data["budgets"]))]
    return {
        "alpha": data["alpha"], "n_replicates": data["n_replicates"], "budgets": data["budgets"],
        "exact_ess_fraction": dict(zip(data["proposals"], data["exact"].tolist())),
        "mean_at_largest_budget": dict(zip(data["proposals"], data["mean"][:, -1].tolist())),
        "sd_at_largest_budget": dict(zip(data["proposals"], data["sd"][:, -1].tolist())),
        "max_abs_deviation_in_sd": float((deviation[spread] / data["sd"][spread]).max()),
        "max_abs_deviation_without_spread": float(deviation[~spread].max()) if (~spread).any() else 0.0,
        "ordering_preserved_at_every_budget": bool(all(order_kept)),
    }


def headline(data) -> str:
    info = summary(data)
    parts = ", ".join(f"{'oracle' if name == 'optimal' else name} {info['mean_at_largest_budget'][name]:.3f} "
                      f"({info['exact_ess_fraction'][name]:.3f})" for name in data["proposals"])
    return (f"S10: alpha=4, N={data['budgets'][-1]}, R={data['n_replicates']}: sampled (exact) ESS/N {parts}; "
            f"|mean - exact| <= {info['max_abs_deviation_in_sd']:.1f} sd at every N; "
            f"ordering preserved at every N: {info['ordering_preserved_at_every_budget']}")
