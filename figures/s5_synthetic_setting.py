"""Figure S.5 (Appendix B.2.4): the synthetic Zipf / power-law-suffix distribution.

``π(i, z) = p_i q_i(z)`` with ``p_i ∝ (i+1)^-1.05`` over ``V = 64`` first tokens and
full-support power-law suffixes ``q_i(z) ∝ z^-s_i`` over ``M = 256`` symbols;
``s_i`` (from :func:`exact.suffix_exponents`) varies non-monotonically with the rank.
Panels: (a) ``p_i`` vs rank, log-log; (b) ``s_i`` vs rank; (c) representative
``q_i(z)`` (the flattest, the sharpest, token 0 and a median-sharpness token).
"""

from __future__ import annotations

import numpy as np

import exact

from . import _style

FIGURE_ID = "S5"
CAPTION = (
    "Synthetic setting: Zipf-like next-token law p_i over V=64 tokens, suffix exponent s_i vs rank "
    "(non-monotone), representative full-support power-law suffixes q_i over M=256."
)
ALPHA = 4.0  # the main exponent; the table reports H_4(q_i) for reference


def compute(seed: int = 0, **options) -> dict:
    """The setting's ingredients, plus consistency with the tabular model ``exact.zipf_suffix_model()``."""
    setting = exact.zipf_suffix_setting()
    model = exact.zipf_suffix_model()
    p, s, q = setting.first_token_probs, setting.suffix_exponents, setting.suffix_probs
    # four tokens spanning the sharpness range: the flattest, the sharpest and two in between
    order = np.argsort(s, kind="stable")
    picks = np.round(np.linspace(0, len(order) - 1, 4)).astype(int)
    representative = [int(order[k]) for k in picks]
    model_suffix = np.stack([exact.suffix_distribution(model, (), i) for i in range(p.size)])
    renyi = np.array([exact.renyi_entropy(q[i], ALPHA) for i in range(p.size)])
    return {
        "p": p,
        "s": s,
        "q": q,
        "representative": representative,
        "renyi_alpha": ALPHA,
        "renyi": renyi,
        "model_vs_setting_p": float(np.max(np.abs(model.conditional(()) - p))),
        "model_vs_setting_q": float(np.max(np.abs(model_suffix - q))),
    }


def plot(data):
    p, s, q = data["p"], data["s"], data["q"]
    ranks = np.arange(1, p.size + 1)
    fig, (ax_p, ax_s, ax_q) = _style.new_figure(3, height=2.55)

    ax_p.loglog(ranks, p, "o", color=_style.PROPOSAL_COLORS["base"], ms=3.2, label="$p_i$")
    fit = p[0] * ranks ** -1.05
    ax_p.loglog(ranks, fit, "-", color="0.35", lw=0.9, label=r"$\propto (i+1)^{-1.05}$")
    ax_p.set_xlabel(_style.RANK_LABEL)
    ax_p.set_ylabel("probability $p_i$")
    ax_p.legend(loc="lower left")
    _style.panel_title(ax_p, "a", "next-token law")

    ax_s.plot(ranks, s, "-o", color=_style.PROPOSAL_COLORS["optimal"], ms=3)
    ax_s.set_xlabel(_style.RANK_LABEL)
    ax_s.set_ylabel("suffix exponent $s_i$")
    ax_s.set_xlim(0, p.size + 1)
    ax_s.axhline(1.0, color="0.5", lw=0.8, ls=":")
    _style.panel_title(ax_s, "b", "suffix sharpness")

    z = np.arange(1, q.shape[1] + 1)
    palette = _style.plt.get_cmap("plasma")(np.linspace(0.05, 0.8, len(data["representative"])))
    for colour, i in zip(palette, data["representative"]):
        ax_q.loglog(z, q[i], color=colour, label=f"$i$={i}, $s_i$={s[i]:.2f}")
        ax_s.plot(i + 1, s[i], "o", ms=6.5, mfc="none", mec=colour, mew=1.4)
    ax_q.set_xlabel("suffix symbol $z$ (of $M$ = 256)")
    ax_q.set_ylabel("probability $q_i(z)$")
    ax_q.legend(loc="lower left", fontsize=7.5, handlelength=1.2)
    _style.panel_title(ax_q, "c", "suffix laws $q_i$")
    return fig


def tables(data) -> dict:
    p, s, q = data["p"], data["s"], data["q"]
    alpha = data["renyi_alpha"]
    tokens = [
        {"token": i, "rank": i + 1, "p": p[i], "s": s[i], f"renyi_entropy_alpha{alpha:g}_nats": data["renyi"][i]}
        for i in range(p.size)
    ]
    suffixes = [
        {"token": i, "s": s[i], "z": z + 1, "q": q[i, z]} for i in data["representative"] for z in range(q.shape[1])
    ]
    return {"tokens": tokens, "suffix": suffixes}


def summary(data) -> dict:
    p, s, q = data["p"], data["s"], data["q"]
    return {
        "vocab_size": int(p.size),
        "suffix_size": int(q.shape[1]),
        "zipf_exponent": 1.05,
        "p_max": float(p.max()),
        "p_min": float(p.min()),
        "s_min": float(s.min()),
        "s_max": float(s.max()),
        "s_non_monotone": bool(np.any(np.diff(s) > 0) and np.any(np.diff(s) < 0)),
        "q_min": float(q.min()),
        "representative_tokens": list(data["representative"]),
        "renyi_alpha": data["renyi_alpha"],
        "renyi_entropy_range_nats": [float(data["renyi"].min()), float(data["renyi"].max())],
        "max_abs_model_minus_setting_p": data["model_vs_setting_p"],
        "max_abs_model_minus_setting_q": data["model_vs_setting_q"],
    }


def headline(data) -> str:
    info = summary(data)
    return (
        f"S5: V={info['vocab_size']} Zipf tokens (p from {info['p_max']:.3f} to {info['p_min']:.4f}), "
        f"s_i in [{info['s_min']:.2f}, {info['s_max']:.2f}] (non-monotone), M={info['suffix_size']} full-support "
        f"suffixes (min q = {info['q_min']:.1e}); H_4(q_i) in "
        f"[{info['renyi_entropy_range_nats'][0]:.2f}, {info['renyi_entropy_range_nats'][1]:.2f}] nats"
    )
