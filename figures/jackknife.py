"""Bias of the scalable sampler's next-token distribution vs the number of rollouts ``M`` (seed 002, Lemmas 3.2-3.3).

On a full-support model (``V = 3``, ``T = 4``, Dirichlet(2) conditionals) at a
moderate ``α = 2`` — where the ratio estimator is a smooth function of bounded
rollout means, as Lemma 3.3 assumes — the *exact* expected estimated conditional
``E[p̂(· | y_<t)]`` at the first step (``K = V`` candidates, rollouts to the end)
is compared with the power conditional ``π_pow,α`` (Eq. 6):

    ``|bias|(M) = Σ_a |E[p̂(a)] - π_pow,α(a)|``,

for the plain estimator (Lemma 3.2: ``O(1/M)``) and the unclipped jackknife
(Lemma 3.3: ``O(1/M²)``).  Both expectations are exact for every ``M``
(:func:`exact.samplers.laplace_ratio_expectations`).  The slopes are least-squares
fits of ``log |bias|`` on ``log M`` over ``M ≥ FIT_FROM``.
"""

from __future__ import annotations

import numpy as np

import exact
from exact import samplers as S

from . import _style

FIGURE_ID = "jackknife"
CAPTION = (
    "Exact |bias| of the scalable sampler's next-token distribution vs rollouts M (log-log): plain MC lookahead "
    "decays as 1/M (Lemma 3.2), the jackknife as 1/M^2 (Lemma 3.3); fitted slopes shown."
)
VOCAB_SIZE, HORIZON, ALPHA, CONCENTRATION = 3, 4, 2.0, 2.0
ROLLOUTS = 2 ** np.arange(1, 11)  # 2 .. 1024
FIT_FROM = 8


def compute(seed: int = 0, **options) -> dict:
    """``Σ_a |bias|`` at the empty prefix for every ``M`` in :data:`ROLLOUTS`, plain and jackknife."""
    model = exact.TabularAR.random(VOCAB_SIZE, HORIZON, seed=seed, concentration=CONCENTRATION)
    plain = np.array([np.abs(S.scalable_conditional_bias(model, (), ALPHA, VOCAB_SIZE, int(m), False).bias).sum() for m in ROLLOUTS])
    jack = np.array(
        [np.abs(S.scalable_conditional_bias(model, (), ALPHA, VOCAB_SIZE, int(m), True, clip=False).bias).sum() for m in ROLLOUTS]
    )
    clipped = np.array(
        [np.abs(S.scalable_conditional_bias(model, (), ALPHA, VOCAB_SIZE, int(m), True, clip=True,
                                             rng=np.random.default_rng(seed)).bias).sum() for m in ROLLOUTS[:3]]
    )
    return {"rollouts": ROLLOUTS.copy(), "plain": plain, "jackknife": jack, "jackknife_clipped_small_M": clipped,
            "alpha": ALPHA, "model": f"TabularAR.random({VOCAB_SIZE}, {HORIZON}, seed={seed}, concentration={CONCENTRATION})"}


def _fit(rollouts, bias):
    use = rollouts >= FIT_FROM
    slope, intercept = np.polyfit(np.log(rollouts[use]), np.log(bias[use]), 1)
    return float(slope), float(intercept)


def plot(data):
    fig, ax = _style.new_figure(1, height=3.0, width=4.2)
    M = data["rollouts"]
    colors = _style.sns.color_palette("colorblind", 2)
    for color, key, label in ((colors[0], "plain", "plain MC lookahead"), (colors[1], "jackknife", "jackknife")):
        slope, intercept = _fit(M, data[key])
        ax.loglog(M, data[key], "o", color=color, ms=4.5, label=f"{label}: slope {slope:.2f}")
        fit_m = M[M >= FIT_FROM]
        ax.loglog(fit_m, np.exp(intercept) * fit_m**slope, "-", color=color, lw=1.0)
    ax.set_xlabel("rollouts per candidate $M$")
    ax.set_ylabel(r"$\sum_a |E\,\hat p(a) - \pi_{\mathrm{pow},\alpha}(a)|$")
    ax.set_title(rf"exact bias at $t=1$, $K=V$, $\alpha={data['alpha']:g}$", loc="left")
    ax.legend(loc="lower left")
    return fig


def tables(data) -> dict:
    rows = [{"M": int(m), "plain_abs_bias": float(p), "jackknife_abs_bias": float(j)}
            for m, p, j in zip(data["rollouts"], data["plain"], data["jackknife"])]
    return {"bias": rows}


def summary(data) -> dict:
    plain_slope, _ = _fit(data["rollouts"], data["plain"])
    jack_slope, _ = _fit(data["rollouts"], data["jackknife"])
    return {"model": data["model"], "alpha": data["alpha"], "fit_from_M": FIT_FROM,
            "plain_slope": plain_slope, "jackknife_slope": jack_slope,
            "plain_bias": data["plain"], "jackknife_bias": data["jackknife"],
            "jackknife_clipped_bias_small_M": data["jackknife_clipped_small_M"]}


def headline(data) -> str:
    info = summary(data)
    return (f"jackknife: |bias| slopes vs M: plain {info['plain_slope']:.2f} (expected -1), "
            f"jackknife {info['jackknife_slope']:.2f} (expected -2)")
