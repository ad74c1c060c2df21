"""Figure S.6 (Appendix B.2.4): Prop. 1 checked on every token pair of the synthetic model.

For every unordered pair ``i < j`` of first tokens and every ``α ∈ {1.1, 1.5, 2, 3, 4, 8}``
two independent routes give the power-vs-temperature log odds correction (Eq. 7):

* direct: ``log[(π_pow,α(i)/π_pow,α(j)) / (π_temp,α(i)/π_temp,α(j))]`` from
  :func:`exact.log_power_conditional` and :func:`exact.log_temp_conditional`;
* Rényi prediction: ``(1 - α)(H_α(q_i) - H_α(q_j))`` with ``H_α`` from
  :func:`exact.renyi_entropy` of the enumerated :func:`exact.suffix_distribution`
  (once per token and ``α``).

Panels: (a) prediction vs direct, coloured by ``α`` (all on the diagonal);
(b) the distribution of the corrections at ``α = 4``.
"""

from __future__ import annotations

import numpy as np

import exact

from . import _style

FIGURE_ID = "S6"
CAPTION = (
    "Suffix Rényi entropy coincides with the power-vs-temperature odds gap: Rényi-predicted vs direct "
    "log odds corrections for every unordered token pair and alpha in {1.1,1.5,2,3,4,8}; distribution at alpha=4."
)
ALPHAS = (1.1, 1.5, 2.0, 3.0, 4.0, 8.0)
MAIN_ALPHA = 4.0


def compute(seed: int = 0, **options) -> dict:
    """Both sides of Eq. (7) for all ``V(V-1)/2`` pairs ``i < j`` at every ``α`` in :data:`ALPHAS`."""
    model = exact.zipf_suffix_model()
    vocab_size = model.vocab_sizes[0]
    suffixes = [exact.suffix_distribution(model, (), i) for i in range(vocab_size)]
    first, second = np.triu_indices(vocab_size, k=1)
    renyi = np.empty((len(ALPHAS), vocab_size))
    predicted = np.empty((len(ALPHAS), first.size))
    direct = np.empty_like(predicted)
    for k, alpha in enumerate(ALPHAS):
        renyi[k] = [exact.renyi_entropy(q, alpha) for q in suffixes]
        predicted[k] = (1.0 - alpha) * (renyi[k, first] - renyi[k, second])
        log_pow = exact.log_power_conditional(model, (), alpha)
        log_temp = exact.log_temp_conditional(model, (), alpha)
        direct[k] = (log_pow[first] - log_pow[second]) - (log_temp[first] - log_temp[second])
    return {"alphas": np.array(ALPHAS), "i": first, "j": second, "renyi": renyi, "predicted": predicted, "direct": direct}


def _max_error(data) -> float:
    return float(np.max(np.abs(data["predicted"] - data["direct"])))


def plot(data):
    fig, (ax, ax_hist) = _style.new_figure(2, height=2.9, gridspec_kw={"width_ratios": [1.0, 1.15]})
    colours = _style.sns.color_palette("viridis", len(data["alphas"]))
    for k in reversed(range(len(data["alphas"]))):  # small α on top: their points sit near 0
        ax.scatter(data["direct"][k], data["predicted"][k], s=5, color=colours[k], alpha=0.55, lw=0,
                   label=f"{data['alphas'][k]:g}", rasterized=True)
    low = min(data["direct"].min(), data["predicted"].min())
    high = max(data["direct"].max(), data["predicted"].max())
    pad = 0.05 * (high - low)
    ax.plot([low - pad, high + pad], [low - pad, high + pad], color="0.2", lw=0.9, ls="--", zorder=0)
    ax.set_xlim(low - pad, high + pad)
    ax.set_ylim(low - pad, high + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("direct log odds correction (nats)")
    ax.set_ylabel(r"$(1-\alpha)(H_\alpha(q_i)-H_\alpha(q_j))$ (nats)")
    handles, labels = ax.get_legend_handles_labels()
    legend = ax.legend(handles[::-1], labels[::-1], title=r"$\alpha$", loc="upper left", markerscale=2.2,
                       handletextpad=0.2, borderpad=0.3, labelspacing=0.25)
    for handle in legend.legend_handles:
        handle.set_alpha(1.0)
    ax.text(0.97, 0.04, f"{data['i'].size} pairs × {len(data['alphas'])} α\nmax |diff| = {_max_error(data):.1e}",
            transform=ax.transAxes, ha="right", va="bottom", fontsize=8,
            bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "0.7"})
    _style.panel_title(ax, "a", "Rényi prediction vs direct")

    k = list(data["alphas"]).index(MAIN_ALPHA)
    values = data["direct"][k]
    ax_hist.hist(values, bins=40, color=colours[k], edgecolor="white", linewidth=0.4)
    ax_hist.axvline(0.0, color="0.2", lw=0.9, ls="--")
    ax_hist.set_ylim(0, ax_hist.get_ylim()[1] * 1.3)  # headroom for the note
    ax_hist.set_xlabel(r"log odds correction at $\alpha$ = 4 (nats)")
    ax_hist.set_ylabel("number of pairs $(i<j)$")
    share = float(np.mean(values < 0))
    ax_hist.text(0.98, 0.97, f"{share:.0%} of pairs below 0:\npower moves the odds\ntowards the rarer token $j$",
                 transform=ax_hist.transAxes, ha="right", va="top", fontsize=8)
    _style.panel_title(ax_hist, "b", r"distribution at $\alpha$ = 4")
    return fig


def tables(data) -> dict:
    rows = []
    for k, alpha in enumerate(data["alphas"]):
        for n in range(data["i"].size):
            rows.append({
                "alpha": alpha, "i": data["i"][n], "j": data["j"][n],
                "direct_log_odds_correction": data["direct"][k, n],
                "renyi_prediction": data["predicted"][k, n],
                "abs_difference": abs(data["direct"][k, n] - data["predicted"][k, n]),
            })
    entropies = [
        {"alpha": alpha, "token": i, "renyi_entropy_nats": data["renyi"][k, i]}
        for k, alpha in enumerate(data["alphas"]) for i in range(data["renyi"].shape[1])
    ]
    return {"pairs": rows, "renyi": entropies}


def summary(data) -> dict:
    errors = np.abs(data["predicted"] - data["direct"]).max(axis=1)
    k = list(data["alphas"]).index(MAIN_ALPHA)
    at_main = data["direct"][k]
    return {
        "pairs": int(data["i"].size),
        "alphas": list(data["alphas"]),
        "comparisons": int(data["direct"].size),
        "max_abs_difference": _max_error(data),
        "max_abs_difference_by_alpha": dict(zip([f"{a:g}" for a in data["alphas"]], errors.tolist())),
        "max_abs_correction": float(np.abs(data["direct"]).max()),
        "alpha4_correction_quantiles": dict(zip(["min", "q25", "median", "q75", "max"],
                                                np.quantile(at_main, [0, 0.25, 0.5, 0.75, 1]).tolist())),
        "alpha4_fraction_negative": float(np.mean(at_main < 0)),
    }


def headline(data) -> str:
    return (
        f"S6: max |Rényi prediction - direct log odds correction| = {_max_error(data):.1e} nats over "
        f"{data['i'].size} pairs x {len(data['alphas'])} alphas (corrections up to "
        f"{np.abs(data['direct']).max():.1f} nats)"
    )
