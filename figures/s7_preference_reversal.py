"""Figure S.7 (Appendix B.2.4): suffix entropy can reverse next-token preferences.

Pairs ``i < j`` have ``p_i > p_j`` (Zipf), so temperature's log odds
``log π_temp,α(i)/π_temp,α(j) = α log(p_i/p_j)`` are positive.  At ``α = 4``:

* reversal: the power conditional prefers ``j`` (``log π_pow,α(i)/π_pow,α(j) < 0``),
  because ``q_j`` has a sharper, lower-Rényi-entropy suffix;
* control: the suffix correction also favours ``j`` (it is negative) but is too
  small, so power still prefers ``i``.

Shown: four of each with no token repeated, picked greedily by how clearly they
make the point (reversals by ``min(temperature odds, -power odds)``; controls by
``min(power odds, -correction)``, among pairs whose temperature odds are no larger
than the shown reversals', so the two panels share a scale).  All bars are closed
form (:func:`exact.log_power_conditional`, :func:`exact.log_temp_conditional`).
"""

from __future__ import annotations

import numpy as np

import exact

from . import _style

FIGURE_ID = "S7"
CAPTION = (
    "Suffix entropy can reverse next-token preferences: for pairs i<j (p_i>p_j, temperature favours i), "
    "closed-form temperature vs power log odds at alpha=4; reversals (power favours j) and controls."
)
ALPHA = 4.0
SHOWN = 4


def _pick(score: np.ndarray, first: np.ndarray, second: np.ndarray, count: int) -> list[int]:
    """Indices of the ``count`` best-scoring pairs (finite scores), no token used twice."""
    chosen, used = [], set()
    for n in np.argsort(-score, kind="stable"):
        if not np.isfinite(score[n]) or len(chosen) == count:
            break
        if first[n] in used or second[n] in used:
            continue
        chosen.append(int(n))
        used.update((int(first[n]), int(second[n])))
    return chosen


def compute(seed: int = 0, **options) -> dict:
    """Temperature and power log odds for every pair ``i < j`` at ``α = 4``, and the shown examples."""
    model = exact.zipf_suffix_model()
    setting = exact.zipf_suffix_setting()
    first, second = np.triu_indices(model.vocab_sizes[0], k=1)
    log_temp = exact.log_temp_conditional(model, (), ALPHA)
    log_pow = exact.log_power_conditional(model, (), ALPHA)
    temperature = log_temp[first] - log_temp[second]
    power = log_pow[first] - log_pow[second]
    correction = power - temperature
    reversal = (temperature > 0) & (power < 0)
    control = (temperature > 0) & (power > 0) & (correction < 0)
    reversals = _pick(np.where(reversal, np.minimum(temperature, -power), -np.inf), first, second, SHOWN)
    ceiling = temperature[reversals].max() if reversals else np.inf
    controls = _pick(np.where(control & (temperature <= ceiling), np.minimum(power, -correction), -np.inf),
                     first, second, SHOWN)
    suffixes = [exact.suffix_distribution(model, (), i) for i in range(model.vocab_sizes[0])]
    renyi = np.array([exact.renyi_entropy(q, ALPHA) for q in suffixes])
    return {
        "alpha": ALPHA, "i": first, "j": second, "p": setting.first_token_probs, "s": setting.suffix_exponents,
        "renyi": renyi, "temperature": temperature, "power": power, "correction": correction,
        "is_reversal": reversal, "is_control": control, "reversals": reversals, "controls": controls,
    }


def _draw(ax, data, picks, title, letter):
    x = np.arange(len(picks))
    width = 0.38
    for offset, key, name, label in ((-width / 2, "temperature", "temperature", r"temperature $\pi_{\mathrm{temp},\alpha}$"),
                                     (width / 2, "power", "optimal", r"power $\pi_{\mathrm{pow},\alpha}$")):
        ax.bar(x + offset, data[key][picks], width, color=_style.PROPOSAL_COLORS[name], label=label)
    ax.axhline(0, color="0.2", lw=0.8)
    labels = [f"({data['i'][n]}, {data['j'][n]})\n$s$: {data['s'][data['i'][n]]:.2f}, {data['s'][data['j'][n]]:.2f}"
              for n in picks]
    ax.set_xticks(x, labels, fontsize=7.5)
    ax.set_xlabel(r"pair $(i, j)$, $i<j$; suffix exponents $s_i$, $s_j$", fontsize=9)
    _style.panel_title(ax, letter, title)


def plot(data):
    fig, (ax_rev, ax_ctl) = _style.new_figure(2, height=2.9, sharey=True)
    _draw(ax_rev, data, data["reversals"], "reversals: power prefers $j$", "a")
    _draw(ax_ctl, data, data["controls"], "controls: power still prefers $i$", "b")
    ax_rev.set_ylabel(r"log odds of $i$ over $j$ at $\alpha$ = 4 (nats)", fontsize=9)
    ax_ctl.legend(loc="lower right")  # panel (b) has no negative bars: room for the legend
    return fig


def _row(data, n, kind):
    i, j = int(data["i"][n]), int(data["j"][n])
    return {
        "kind": kind, "i": i, "j": j, "p_i": data["p"][i], "p_j": data["p"][j], "s_i": data["s"][i],
        "s_j": data["s"][j], "renyi_entropy_i": data["renyi"][i], "renyi_entropy_j": data["renyi"][j],
        "temperature_log_odds": data["temperature"][n], "power_log_odds": data["power"][n],
        "log_odds_correction": data["correction"][n],
    }


def tables(data) -> dict:
    shown = [_row(data, n, "reversal") for n in data["reversals"]] + [_row(data, n, "control") for n in data["controls"]]
    kinds = np.where(data["is_reversal"], "reversal", np.where(data["is_control"], "control", "other"))
    return {"shown": shown, "pairs": [_row(data, n, str(kinds[n])) for n in range(data["i"].size)]}


def summary(data) -> dict:
    return {
        "alpha": data["alpha"],
        "pairs": int(data["i"].size),
        "temperature_prefers_i_in_all_pairs": bool(np.all(data["temperature"] > 0)),
        "reversal_pairs": int(data["is_reversal"].sum()),
        "control_pairs": int(data["is_control"].sum()),
        "shown_reversals": [_row(data, n, "reversal") for n in data["reversals"]],
        "shown_controls": [_row(data, n, "control") for n in data["controls"]],
    }


def headline(data) -> str:
    n = data["reversals"][0]
    return (
        f"S7: at alpha=4, {int(data['is_reversal'].sum())} of {data['i'].size} pairs i<j reverse the temperature "
        f"preference ({int(data['is_control'].sum())} controls); e.g. ({data['i'][n]}, {data['j'][n]}): "
        f"temperature {data['temperature'][n]:+.2f}, power {data['power'][n]:+.2f} nats"
    )
