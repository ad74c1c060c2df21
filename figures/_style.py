"""One look for every figure: seaborn theme, proposal colours, shared labels.

Figures are drawn at the paper's text width (about 6.5-7 in) with 9-10 pt text,
so they read at column width in a one-column paper.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

#: Text width of the figures, inches.
WIDTH = 7.0

#: The four one-step proposals of Appendix B.2.5, in drawing order: ``exact`` name -> label.
PROPOSAL_LABELS = {
    "optimal": r"oracle $q^\star = \pi_{\mathrm{pow},\alpha}$",
    "temperature": r"temperature $q^{\mathrm{temp}} \propto p_i^\alpha$",
    "base": r"base $q^{\mathrm{base}} = p_i$",
    "uniform": r"uniform $1/V$",
}

#: Short labels for tight legends.
PROPOSAL_SHORT = {"optimal": "oracle $q^\\star$", "temperature": "temperature", "base": "base", "uniform": "uniform"}

_PALETTE = sns.color_palette("colorblind")
#: One colour per proposal, reused by S7-S10 (the power conditional is the oracle's colour).
PROPOSAL_COLORS = {
    "optimal": _PALETTE[0],
    "temperature": _PALETTE[1],
    "base": _PALETTE[2],
    "uniform": _PALETTE[7],
}
PROPOSAL_MARKERS = {"optimal": "o", "temperature": "s", "base": "^", "uniform": "D"}

RANK_LABEL = "next-token rank $i+1$"
NATS = "nats"


def set_theme() -> None:
    """Apply the shared seaborn theme (idempotent)."""
    sns.set_theme(
        context="paper",
        style="whitegrid",
        font_scale=1.15,
        rc={
            "axes.titlesize": 10.5,
            "axes.labelsize": 10,
            "xtick.labelsize": 8.5,
            "ytick.labelsize": 8.5,
            "legend.fontsize": 8.5,
            "legend.title_fontsize": 8.5,
            "legend.frameon": True,
            "legend.framealpha": 0.9,
            "axes.edgecolor": "0.3",
            "grid.linewidth": 0.6,
            "lines.linewidth": 1.6,
            "lines.markersize": 4.5,
            "savefig.dpi": 200,
            "savefig.bbox": "tight",
            "savefig.pad_inches": 0.03,
            "pdf.fonttype": 42,
        },
    )


def new_figure(ncols: int, height: float = 2.7, width: float = WIDTH, **kwargs):
    """A themed figure with ``ncols`` panels side by side; returns ``(fig, axes)``."""
    set_theme()
    fig, axes = plt.subplots(1, ncols, figsize=(width, height), layout="constrained", **kwargs)
    return fig, axes


def panel_title(ax, letter: str, text: str) -> None:
    """``(a) text`` as the panel title, left-aligned."""
    ax.set_title(f"({letter}) {text}", loc="left")
