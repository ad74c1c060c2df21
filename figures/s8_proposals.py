"""Figure S.8 (Appendix B.2.5): the four one-step proposals at ``α = 4`` and their log weights.

At the empty prefix the target is ``π_pow,α(i) ∝ p_i^α Σ_z q_i(z)^α`` and the
first incremental weight (Eq. 9) is ``W_1(i) = π_pow,α(i) / q(i)``.  Proposals
(:func:`exact.log_proposal`): oracle ``q* = π_pow,α`` (Eq. 10), temperature
``∝ p_i^α``, base ``p_i``, uniform ``1/V``.  Only the oracle's ``log W_1`` is
constant (zero), Prop. 2.
"""

from __future__ import annotations

import numpy as np

import exact

from . import _style

FIGURE_ID = "S8"
CAPTION = (
    "One-step SIS proposals at alpha=4 (oracle q*=pi_pow, temperature, base, uniform) and the log incremental "
    "weight log W_1(i) per token: constant only for the oracle."
)
ALPHA = 4.0
PROPOSALS = ("optimal", "temperature", "base", "uniform")


def compute(seed: int = 0, **options) -> dict:
    """Target, proposals and ``log W_1(i) = log π_pow,α(i) - log q(i)`` for every first token."""
    model = exact.zipf_suffix_model()
    setting = exact.zipf_suffix_setting()
    log_target = exact.log_power_conditional(model, (), ALPHA)
    log_q = {name: exact.log_proposal(model, (), ALPHA, name) for name in PROPOSALS}
    stats = {name: exact.incremental_weight_stats(model, (), ALPHA, name)._asdict() for name in PROPOSALS}
    return {
        "alpha": ALPHA, "p": setting.first_token_probs, "s": setting.suffix_exponents,
        "log_suffix_power_mass": model.log_power_suffix_mass((), ALPHA),
        "log_target": log_target, "log_q": log_q,
        "log_weight": {name: log_target - log_q[name] for name in PROPOSALS},
        "stats": stats,
    }


def _spread(values: np.ndarray) -> float:
    return float(values.max() - values.min())


def plot(data):
    fig, (ax_q, ax_w) = _style.new_figure(2, height=2.8)
    ranks = np.arange(1, data["p"].size + 1)
    for name in PROPOSALS:
        style = {"color": _style.PROPOSAL_COLORS[name], "marker": _style.PROPOSAL_MARKERS[name], "ms": 3.0,
                 "lw": 1.2, "label": _style.PROPOSAL_SHORT[name]}
        ax_q.semilogy(ranks, np.exp(data["log_q"][name]), **style)
        ax_w.plot(ranks, data["log_weight"][name], **style)
    ax_q.set_xlabel(_style.RANK_LABEL)
    ax_q.set_ylabel("proposal probability $q(i)$")
    fig.legend(*ax_q.get_legend_handles_labels(), loc="outside upper center", ncols=4, frameon=False)
    ax_q.set_ylim(top=2)
    _style.panel_title(ax_q, "a", r"proposals at $\alpha$ = 4")
    ax_w.axhline(0.0, color="0.2", lw=0.8, ls=":")
    ax_w.set_xlabel(_style.RANK_LABEL)
    ax_w.set_ylabel(r"$\log W_1(i) = \log \pi_{\mathrm{pow},\alpha}(i) / q(i)$ (nats)", fontsize=9)
    _style.panel_title(ax_w, "b", "log incremental weight")
    for axis in (ax_q, ax_w):
        axis.set_xlim(0, ranks[-1] + 1)
    return fig


def tables(data) -> dict:
    rows = []
    for i in range(data["p"].size):
        row = {"token": i, "rank": i + 1, "p": data["p"][i], "s": data["s"][i],
               "log_suffix_power_mass": data["log_suffix_power_mass"][i], "target_pi_pow": np.exp(data["log_target"][i])}
        row.update({f"q_{name}": np.exp(data["log_q"][name][i]) for name in PROPOSALS})
        row.update({f"log_w1_{name}": data["log_weight"][name][i] for name in PROPOSALS})
        rows.append(row)
    stats = [{"proposal": name, **data["stats"][name]} for name in PROPOSALS]
    return {"tokens": rows, "weight_stats": stats}


def summary(data) -> dict:
    return {
        "alpha": data["alpha"],
        "log_weight_spread_nats": {name: _spread(data["log_weight"][name]) for name in PROPOSALS},
        "weight_stats": data["stats"],
    }


def headline(data) -> str:
    spread = summary(data)["log_weight_spread_nats"]
    return "S8: alpha=4, spread (max - min) of log W_1(i) over tokens: " + ", ".join(
        f"{'oracle' if name == 'optimal' else name} {spread[name]:.1f}" for name in PROPOSALS) + " nats"
