"""Figure S.9 (Appendix B.2.5): exact first-step ESS/N and CV²(W_1) against ``α``.

``ESS/N = 1/(1 + CV²(W_1))`` from :func:`exact.incremental_weight_stats` (exact sums
over the 64 first tokens).  The oracle has ``Var[W_1] = 0`` (Prop. 2), so its
``CV² = 0`` cannot be drawn on the log axis of panel (b): it is stated there in
words (the computed values are ``≤ 1e-15``, rounding, reported in the JSON).

With the ``s_i`` profile of :func:`exact.suffix_exponents` the temperature
proposal's gap to the oracle widens at every step of the ``α`` grid (it keeps
widening past ``α = 40``; only as ``α → ∞`` do both concentrate on token 0).
``summary`` reports whether the widening is strict over the whole grid.
"""

from __future__ import annotations

import numpy as np

import exact

from . import _style

FIGURE_ID = "S9"
CAPTION = (
    "Exact first-step weight variance: ESS/N = 1/(1+CV^2(W_1)) and CV^2(W_1) (log scale) vs alpha for the four "
    "proposals; the oracle has Var[W_1]=0 at every alpha; temperature's gap to it widens as alpha grows."
)
PROPOSALS = ("optimal", "temperature", "base", "uniform")
ALPHAS = np.concatenate([[1.1], np.arange(1.25, 8.0 + 1e-9, 0.25)])
MAIN_ALPHA = 4.0


def compute(seed: int = 0, **options) -> dict:
    """``WeightStats`` of ``W_1`` for every proposal on the ``α`` grid :data:`ALPHAS`."""
    model = exact.zipf_suffix_model()
    fields = ("mean", "variance", "cv2", "ess_fraction")
    stats = {name: {field: np.empty(ALPHAS.size) for field in fields} for name in PROPOSALS}
    for k, alpha in enumerate(ALPHAS):
        for name in PROPOSALS:
            result = exact.incremental_weight_stats(model, (), float(alpha), name)
            for field in fields:
                stats[name][field][k] = getattr(result, field)
    return {"alphas": ALPHAS.copy(), "stats": stats}


def _gap(data) -> np.ndarray:
    return data["stats"]["optimal"]["ess_fraction"] - data["stats"]["temperature"]["ess_fraction"]


def plot(data):
    fig, (ax_ess, ax_cv) = _style.new_figure(2, height=2.8)
    alphas = data["alphas"]
    for name in PROPOSALS:
        style = {"color": _style.PROPOSAL_COLORS[name], "marker": _style.PROPOSAL_MARKERS[name], "ms": 3.0,
                 "lw": 1.3, "label": _style.PROPOSAL_SHORT[name], "markevery": 2}
        ax_ess.plot(alphas, data["stats"][name]["ess_fraction"], **style)
        if name != "optimal":
            ax_cv.semilogy(alphas, data["stats"][name]["cv2"], **style)
    for axis in (ax_ess, ax_cv):
        axis.axvline(MAIN_ALPHA, color="0.5", lw=0.8, ls=":")
        axis.set_xlabel(r"power exponent $\alpha$")
        axis.set_xlim(1, alphas[-1] + 0.1)
    ax_ess.set_ylim(0, 1.05)
    ax_ess.set_ylabel(r"exact ESS$/N = 1/(1+\mathrm{CV}^2)$")
    fig.legend(*ax_ess.get_legend_handles_labels(), loc="outside upper center", ncols=4, frameon=False)
    _style.panel_title(ax_ess, "a", "effective sample size")
    ax_cv.set_ylabel(r"exact $\mathrm{CV}^2(W_1)$")
    ax_cv.text(0.97, 0.05, "oracle $q^\\star$: CV$^2$ = 0 at every $\\alpha$\n(Prop. 2; not drawable on a log axis)",
               transform=ax_cv.transAxes, ha="right", va="bottom", fontsize=8, color=_style.PROPOSAL_COLORS["optimal"],
               bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": _style.PROPOSAL_COLORS["optimal"]})
    low = min(data["stats"][name]["cv2"].min() for name in PROPOSALS if name != "optimal")
    ax_cv.set_ylim(low / 30, None)
    _style.panel_title(ax_cv, "b", r"weight variance, CV$^2(W_1)$")
    return fig


def tables(data) -> dict:
    rows = [
        {"alpha": alpha, "proposal": name, **{field: data["stats"][name][field][k] for field in data["stats"][name]}}
        for k, alpha in enumerate(data["alphas"]) for name in PROPOSALS
    ]
    return {"alpha": rows}


def summary(data) -> dict:
    gap = _gap(data)
    k_main = int(np.argmin(np.abs(data["alphas"] - MAIN_ALPHA)))
    peak = int(np.argmax(gap))
    oracle = data["stats"]["optimal"]
    return {
        "alphas": data["alphas"],
        "ess_fraction_at_alpha4": {name: float(data["stats"][name]["ess_fraction"][k_main]) for name in PROPOSALS},
        "cv2_at_alpha4": {name: float(data["stats"][name]["cv2"][k_main]) for name in PROPOSALS},
        "oracle_max_abs_ess_minus_1": float(np.max(np.abs(oracle["ess_fraction"] - 1.0))),
        "oracle_max_cv2": float(np.max(oracle["cv2"])),
        "temperature_gap": gap,
        "temperature_gap_peak_alpha": float(data["alphas"][peak]),
        "temperature_gap_increasing_up_to_peak": bool(np.all(np.diff(gap[: peak + 1]) > 0)),
        "temperature_gap_strictly_widening": bool(np.all(np.diff(gap) > 0)),
    }


def headline(data) -> str:
    info = summary(data)
    ess = info["ess_fraction_at_alpha4"]
    return (
        f"S9: exact ESS/N at alpha=4: oracle {ess['optimal']:.3f}, temperature {ess['temperature']:.3f}, "
        f"base {ess['base']:.3f}, uniform {ess['uniform']:.3f}; oracle |ESS/N-1| <= {info['oracle_max_abs_ess_minus_1']:.1e} "
        f"for all alpha; temperature gap {'widens at every alpha step' if info['temperature_gap_strictly_widening'] else 'peaks at alpha=' + format(info['temperature_gap_peak_alpha'], 'g')}"
    )
