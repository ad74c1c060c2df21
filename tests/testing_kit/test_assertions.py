"""exact.testing.assertions: each helper passes on right inputs and catches a planted mistake."""

import itertools
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from scipy import stats

import exact
import exact.testing as kit
from exact._goodness import _pool
from sampler_zoo import InterfaceOnly


# -- import hygiene -----------------------------------------------------------------
def test_import_exact_does_not_load_the_kit_or_hypothesis():
    code = "import sys, exact; print('exact.testing' in sys.modules, 'hypothesis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_one_import_gives_targets_strategies_and_assertions():
    for name in ["power_target", "assert_sampler_matches", "tabular_models", "TabularAR", "sample_power", "pivotal_example"]:
        assert name in kit.__all__ and hasattr(kit, name)


# -- targets -------------------------------------------------------------------------
def _brute_force_power(model, alpha):
    joint = model.joint()
    powered = joint**alpha
    return powered / powered.sum()


def _brute_force_temperature(model, alpha):
    joint = model.joint()
    out = np.zeros(joint.shape)
    for y in itertools.product(*(range(v) for v in joint.shape)):
        prob = 1.0
        for t in range(len(y)):
            mass = np.array([joint[y[:t] + (s,)].sum() for s in range(joint.shape[t])])
            if mass.sum() == 0:
                prob = 0.0
                break
            q = (mass / mass.sum()) ** alpha
            prob *= q[y[t]] / q.sum()
        out[y] = prob
    return out


@given(kit.tabular_models(max_vocab=3, max_horizon=3), kit.alphas_sharpening())
def test_targets_match_brute_force(model, alpha):
    np.testing.assert_allclose(kit.power_target(model, alpha), _brute_force_power(model, alpha), atol=1e-10)
    np.testing.assert_allclose(kit.temperature_target(model, alpha), _brute_force_temperature(model, alpha), atol=1e-10)
    np.testing.assert_allclose(kit.base_target(model), model.joint(), atol=1e-12)


# -- assert_normalized ------------------------------------------------------------------
def test_assert_normalized_accepts_and_rejects():
    kit.assert_normalized(np.array([0.25, 0.75]))
    kit.assert_normalized(np.array([[np.log(0.5), np.log(0.5)], [0.0, -np.inf]]), axis=1, log=True)
    kit.assert_normalized(np.array([0.5, 0.5 + 1e-11]))  # inside the declared 1e-10
    with pytest.raises(AssertionError, match="not normalised"):
        kit.assert_normalized(np.array([0.5, 0.5 + 1e-9]))
    with pytest.raises(AssertionError, match="negative"):
        kit.assert_normalized(np.array([1.5, -0.5]))
    with pytest.raises(AssertionError, match="NaN"):
        kit.assert_normalized(np.array([np.nan, 1.0]))
    with pytest.raises(AssertionError, match=r"index \(1,\)"):
        kit.assert_normalized(np.array([[0.5, 0.5], [0.5, 0.6]]), axis=1)



def test_assert_normalized_messages_defaults_and_edges():
    """Messages read from their start (default name ``distribution``, at most 5 NaN positions); any
    real numbers are read as float64; ``axis=None`` sums everything (log or not); an error of exactly
    ``atol`` passes."""
    from fractions import Fraction

    kit.assert_normalized([Fraction(1, 4), Fraction(3, 4)])
    kit.assert_normalized(np.log(np.full((2, 2), 0.25)), log=True)
    sevens = np.full(8, np.nan)
    sevens[0] = 1.0
    cases = [
        ((sevens,), {}, "distribution has NaN entries at [[1], [2], [3], [4], [5]]"),
        ((np.array([0.0, np.inf]),), {"log": True}, "distribution has +inf log-probabilities"),
        ((np.array([0.0, np.inf]),), {}, "distribution has negative or infinite entries (min 0, max inf)"),
    ]
    for args, kwargs, message in cases:
        with pytest.raises(AssertionError) as info:
            kit.assert_normalized(*args, **kwargs)
        assert str(info.value) == message
    nearly = np.array([0.5, 0.5 + 2.0**-30])
    kit.assert_normalized(nearly, atol=float(abs(nearly.sum() - 1.0)))  # exactly atol: passes

# -- assert_autoregressive_factorization --------------------------------------------------
@given(kit.tabular_models(max_vocab=3, max_horizon=3))
def test_factorization_holds_for_tabular_models(model):
    kit.assert_autoregressive_factorization(model)


@given(kit.markov_models())
def test_factorization_holds_for_markov_models_on_samples(model):
    kit.assert_autoregressive_factorization(model, rng=np.random.default_rng(0), n_samples=32)


class _ShiftedLogProb:
    """A model whose ``log_prob`` is off by 0.1 nats: the chain rule must catch it."""

    def __init__(self, model):
        self._model = model
        self.vocab_sizes, self.horizon = model.vocab_sizes, model.horizon

    def log_conditional(self, prefix):
        return self._model.log_conditional(prefix)

    def next_token_logprobs(self, contexts):
        return self._model.next_token_logprobs(contexts)

    def log_prob(self, sequences):
        return self._model.log_prob(sequences) - 0.1


def test_factorization_catches_a_wrong_log_prob():
    model = _ShiftedLogProb(exact.TabularAR.random(3, 2, seed=1))
    with pytest.raises(AssertionError, match="chain rule fails on 9 of 9"):
        kit.assert_autoregressive_factorization(model)


# -- assert_power_conditionals -----------------------------------------------------------
@given(kit.tabular_models(max_vocab=3, max_horizon=3), kit.alphas_sharpening())
def test_engine_power_conditionals_pass(model, alpha):
    kit.assert_power_conditionals(model, alpha)


def test_temperature_is_caught_as_a_power_conditional_on_the_pivotal_example():
    model = exact.pivotal_example()
    with pytest.raises(AssertionError, match=r"prefix \[\].*alpha = 2"):
        kit.assert_power_conditionals(model, 2.0, candidate=exact.temp_conditional)
    # at alpha = 1 both are the base conditional
    kit.assert_power_conditionals(model, 1.0, candidate=exact.temp_conditional)


def test_power_conditionals_tolerance_is_honoured():
    model = exact.TabularAR.random(3, 3, seed=2)
    off = lambda m, prefix, a: exact.power_conditional(m, prefix, a) + np.r_[1e-6, -1e-6, 0.0]  # noqa: E731
    kit.assert_power_conditionals(model, 2.0, candidate=off, atol=2e-6)
    with pytest.raises(AssertionError, match="off by 1e-06"):
        kit.assert_power_conditionals(model, 2.0, candidate=off)


# -- goodness of fit ---------------------------------------------------------------------
def test_pool_merges_small_cells_until_the_pool_is_large_enough():
    expected = np.array([1.0, 50.0, 2.0, 30.0, 4.0, 3.0])  # small ones: 1 + 2 + 3 + 4 = 10 >= 5
    labels = _pool(expected, 5.0)
    assert len(set(labels[[0, 2, 4, 5]])) == 1 and len(set(labels)) == 3
    labels = _pool(np.array([1.0, 2.0, 40.0, 50.0]), 5.0)  # 1 + 2 < 5: the 40 joins the pool
    assert labels[0] == labels[1] == labels[2] != labels[3]
    assert len(set(_pool(np.array([10.0, 20.0]), 5.0))) == 2


def test_goodness_of_fit_statistic_by_hand():
    target = np.array([[0.5, 0.2], [0.2, 0.1]])
    draws = np.array([[0, 0]] * 45 + [[0, 1]] * 25 + [[1, 0]] * 18 + [[1, 1]] * 12)
    observed, expected = np.array([45, 25, 18, 12]), 100 * np.array([0.5, 0.2, 0.2, 0.1])
    pearson = ((observed - expected) ** 2 / expected).sum()
    result = kit.goodness_of_fit(draws, target)
    assert result.dof == 3 and result.n_pooled == 0
    assert result.statistic == pytest.approx(pearson, rel=1e-12)
    assert result.p_value == pytest.approx(stats.chi2.sf(pearson, 3), rel=1e-12)
    g = 2 * (observed * np.log(observed / expected)).sum()
    assert kit.goodness_of_fit(draws, target, method="g").statistic == pytest.approx(g, rel=1e-12)


def _fixed(draws):
    def sampler(model, n, rng):
        return np.asarray(draws)[:n]

    return sampler


def test_exact_sampler_passes_and_reports_its_test():
    model = exact.TabularAR.random(3, 3, seed=3, concentration=0.5)
    sampler = lambda m, n, rng: exact.sample_power(m, 2.0, n, rng)  # noqa: E731
    result = kit.assert_sampler_matches(sampler, model, kit.power_target(model, 2.0), 4000, np.random.default_rng(0))
    assert result.n == 4000 and result.dof == result.n_cells - 1 >= 2 and result.p_value >= 0.01
    assert result.observed.sum() == 4000 and result.expected.shape == model.vocab_sizes


def test_failure_message_shows_the_worst_cells():
    model = exact.pivotal_example()  # π_2 = (0, .5614, .2193, .2193) over aa, ab, ba, bb
    temperature = lambda m, n, rng: np.array([[0, 1]] * 390 + [[1, 0]] * 305 + [[1, 1]] * 305)[:n]  # noqa: E731
    with pytest.raises(AssertionError) as info:
        kit.assert_sampler_matches(temperature, model, kit.power_target(model, 2.0), 1000, np.random.default_rng(0))
    message = str(info.value)
    assert "does not match the target" in message and "on 2 dof" in message
    first_cell = message.split("(O-E)/√E")[1].splitlines()[1].split()
    assert first_cell[:4] == ["(0,", "1)", "390", "561.4"]  # the worst cell comes first


def test_impossible_draws_fail_whatever_the_statistic():
    model = exact.pivotal_example()  # π(aa) = 0
    draws = [[0, 1]] * 561 + [[1, 0]] * 219 + [[1, 1]] * 219 + [[0, 0]]
    with pytest.raises(AssertionError, match=r"1 of 1000 draws have target probability 0.*\(0, 0\), 1"):
        kit.assert_sampler_matches(_fixed(draws), model, kit.power_target(model, 2.0), 1000, np.random.default_rng(0))


def test_malformed_sampler_output_is_a_failure_and_bad_arguments_are_errors():
    model = exact.pivotal_example()
    target = kit.power_target(model, 2.0)
    rng = np.random.default_rng(0)
    with pytest.raises(AssertionError, match=r"shape \(5, 3\)"):
        kit.assert_sampler_matches(lambda m, n, r: np.zeros((n, 3), dtype=int), model, target, 5, rng)
    with pytest.raises(AssertionError, match="dtype float"):
        kit.assert_sampler_matches(lambda m, n, r: np.zeros((n, 2)), model, target, 5, rng)
    with pytest.raises(AssertionError, match="out of range"):
        kit.assert_sampler_matches(lambda m, n, r: np.full((n, 2), 2), model, target, 5, rng)
    with pytest.raises(ValueError, match="shape vocab_sizes"):
        kit.assert_sampler_matches(_fixed([[0, 1]]), model, np.ones(4) / 4, 1, rng)
    with pytest.raises(ValueError, match="alpha_level"):
        kit.assert_sampler_matches(_fixed([[0, 1]]), model, target, 1, rng, alpha_level=1.5)
    with pytest.raises(ValueError, match="method"):
        kit.assert_sampler_matches(_fixed([[0, 1]]), model, target, 1, rng, method="ks")
    with pytest.raises(AssertionError, match="not normalised"):
        kit.assert_sampler_matches(_fixed([[0, 1]]), model, 2 * target, 1, rng)


def test_single_draw_samplers_are_adapted():
    model = exact.pivotal_example()
    draw_one = lambda m, rng: exact.sample_power(m, 2.0, 1, rng)[0]  # noqa: E731
    sampler = kit.from_single_draws(draw_one)
    assert sampler(model, 7, np.random.default_rng(0)).shape == (7, 2)
    kit.assert_sampler_matches(sampler, model, kit.power_target(model, 2.0), 300, np.random.default_rng(1))


def test_a_point_mass_target_has_nothing_to_test_but_support():
    model = exact.TabularAR.from_joint(np.array([[0.0, 1.0], [0.0, 0.0]]))
    result = kit.assert_sampler_matches(_fixed([[0, 1]] * 10), model, model.joint(), 10, np.random.default_rng(0))
    assert (result.dof, result.p_value) == (0, 1.0)


def test_docstring_noncentralities_for_power_099_at_level_001():
    """The module docstring's sizing table: ``n · χ²`` needed for power 0.99 at alpha_level 0.01."""
    import exact.testing.assertions as module

    for dof, stated in [(1, 24), (3, 30), (6, 35), (10, 40), (30, 56)]:
        critical = stats.chi2.isf(0.01, dof)
        assert stats.ncx2.sf(critical, dof, stated - 0.5) < 0.99 < stats.ncx2.sf(critical, dof, stated + 0.5)
    assert "24, 30,\n  35, 40, 56 for 1, 3, 6, 10, 30 degrees of freedom" in module.__doc__


@given(kit.tabular_models(max_vocab=3, max_horizon=3), kit.alphas_sharpening())
def test_the_kit_works_on_a_minimal_interface_model(model, alpha):
    minimal = InterfaceOnly(model)
    np.testing.assert_allclose(kit.power_target(minimal, alpha), kit.power_target(model, alpha), atol=1e-12)
    np.testing.assert_allclose(kit.temperature_target(minimal, alpha), _brute_force_temperature(model, alpha), atol=1e-10)
    np.testing.assert_allclose(kit.base_target(minimal), model.joint(), atol=1e-12)
    kit.assert_autoregressive_factorization(minimal)
    engine = lambda m, prefix, a: exact.power_conditional(model, prefix, a)  # noqa: E731
    kit.assert_power_conditionals(minimal, alpha, candidate=engine)


# -- draws made anywhere: variable-length completions, reproducibility, one name --------------
def test_goodness_of_fit_has_one_home_and_one_name():
    """``exact.goodness_of_fit`` is the function (no module of that name shadows it)."""
    import importlib.util

    import exact.samplers

    assert callable(exact.goodness_of_fit) and exact.goodness_of_fit is kit.goodness_of_fit
    assert exact.chi_square_pvalue is exact.samplers.chi_square_pvalue and exact.SamplerCheck is kit.SamplerCheck
    assert importlib.util.find_spec("exact.goodness_of_fit") is None


def test_draws_match_takes_variable_length_completions_under_eos():
    model = exact.TabularAR.random(3, 3, seed=0, eos_token_id=2)  # EOS = 2, absorbing
    target = kit.power_target(model, 2.0)
    padded = exact.sample_power(model, 2.0, 2000, np.random.default_rng(0))
    completions = exact.trim_completions(padded, 2)
    assert {len(c) for c in completions} == {1, 2, 3}
    as_lists = kit.assert_draws_match([list(c) for c in completions], target, eos_token_id=2)
    as_array = kit.assert_draws_match(padded, target)
    assert as_lists.statistic == as_array.statistic and as_lists.n == 2000
    for bad, message in [([0, 1], "has 2 tokens"), ([2, 0, 2], "after its EOS"), ([0, 1, 0, 1], "has 4 tokens")]:
        with pytest.raises(AssertionError, match=f"not a state of the model.*{message}"):
            kit.assert_draws_match([list(c) for c in completions[:99]] + [bad], target, eos_token_id=2)
    plain = exact.TabularAR.random(2, 2, seed=0)  # no EOS: sequences of exactly T tokens
    kit.assert_draws_match([[0, 1], [1, 1], [0, 0], [1, 0]], plain.joint())
    with pytest.raises(AssertionError, match="has 1 tokens"):
        kit.assert_draws_match([[0, 1], [1]], plain.joint())


def test_reproducibility_check_catches_unseeded_and_seed_ignoring_samplers():
    """50 draws of a model whose largest sequence probability is below 0.4: two seeds give the same
    batch with probability < 0.4^50 = 1e-20."""
    model = exact.TabularAR.random(3, 3, seed=0, eos_token_id=2)
    assert model.joint().max() < 0.4
    kit.assert_reproducible(lambda seed: model.sample(50, np.random.default_rng(seed)))
    kit.assert_reproducible(lambda seed: exact.trim_completions(model.sample(50, np.random.default_rng(seed)), 2))
    with pytest.raises(AssertionError, match=r"sampler is not reproducible: two calls with seed 0 .* differ, e\.g\. draw"):
        kit.assert_reproducible(lambda seed: model.sample(50, np.random.default_rng()))
    with pytest.raises(AssertionError, match="my sampler ignores its seed: seeds 3 and 4 gave the same 50 draws"):
        kit.assert_reproducible(lambda seed: model.sample(50, np.random.default_rng(7)), seeds=(3, 4), name="my sampler")
    with pytest.raises(ValueError, match="seeds must differ"):
        kit.assert_reproducible(lambda seed: model.sample(5, np.random.default_rng(seed)), seeds=(1, 1))


def test_check_power_predicts_the_rejection_rate_of_the_check():
    """The noncentral chi-square power agrees with the check's rejection rate over 600 simulated runs
    (binomial 4-sigma band), at the null (power = alpha_level) and at a law the check catches half the time."""
    rng = np.random.default_rng(7)
    target = np.array([[0.30, 0.20, 0.10], [0.15, 0.15, 0.06], [0.02, 0.015, 0.005]])
    tilt = np.array([[1.6, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    for law, expected_power in ((target, 0.01), (target * tilt / (target * tilt).sum(), None)):
        predicted = kit.check_power(law, target, 400, 0.01)
        if expected_power is not None:
            assert predicted.power == pytest.approx(expected_power) and predicted.noncentrality == 0.0
        cells = np.array(list(np.ndindex(*target.shape)))
        runs = 600
        rejected = sum(
            kit.goodness_of_fit(cells[rng.choice(target.size, 400, p=law.reshape(-1))], target).p_value < 0.01
            for _ in range(runs)
        )
        band = 4 * np.sqrt(predicted.power * (1 - predicted.power) / runs) + 0.01
        assert abs(rejected / runs - predicted.power) < band, (rejected / runs, predicted)
    assert 0.2 < kit.check_power(target * tilt / (target * tilt).sum(), target, 400).power < 0.9


class _Replay:
    """A ``sample(seed)`` that returns the given batches in turn and records the seeds it was called with."""

    def __init__(self, *batches):
        self.batches, self.seeds = list(batches), []

    def __call__(self, seed):
        self.seeds.append(seed)
        return self.batches[min(len(self.seeds), len(self.batches)) - 1]


def test_reproducibility_messages_in_full_and_the_seeds_it_calls():
    """The messages read from their start, with the first differing draw (by index, both values)."""
    first, second = [(0, 0), (1, 1), (2, 2), (0, 1)], [(0, 0), (1, 2), (2, 2), (1, 1)]
    with pytest.raises(AssertionError) as info:
        kit.assert_reproducible(_Replay(first, second), name="my sampler")
    assert str(info.value) == (
        "my sampler is not reproducible: two calls with seed 0 gave different draws "
        "(2 of 4 draws differ, e.g. draw 1: (1, 1) then (1, 2)). "
        + "Its randomness does not come from the seed only: a generator that is never seeded, or the global RNG?"
    )
    with pytest.raises(AssertionError) as info:  # same draws as far as they go, then one more
        kit.assert_reproducible(_Replay(first[:3], first))
    assert str(info.value).startswith(
        "sampler is not reproducible: two calls with seed 0 gave different draws (3 draws, then 4). Its randomness"
    )
    replay = _Replay(first, first, first)
    with pytest.raises(AssertionError) as info:
        kit.assert_reproducible(replay, seeds=(3, 4))
    assert str(info.value) == (
        "sampler ignores its seed: seeds 3 and 4 gave the same 4 draws. "
        "A fixed internal seed, or a seed argument that is never passed on?"
    )
    assert replay.seeds == [3, 3, 4]  # sample(s) twice, then sample(s')
    replay = _Replay(first, first, second)
    kit.assert_reproducible(replay, seeds=(5, 0))
    assert replay.seeds == [5, 5, 0]


def test_reproducibility_of_strings_and_of_arrays_of_different_lengths():
    """Draws may be strings (decoded text) or variable-length completions as numpy rows."""
    texts = lambda seed: [f"draw {v}" for v in np.random.default_rng(seed).integers(1000, size=20)]  # noqa: E731
    kit.assert_reproducible(texts)
    rows = lambda seed: [np.arange(v % 4 + 1) + v for v in np.random.default_rng(seed).integers(9, size=20)]  # noqa: E731
    kit.assert_reproducible(rows)
    with pytest.raises(AssertionError, match="ignores its seed"):
        kit.assert_reproducible(lambda seed: [np.arange(3), np.arange(2)])


def test_single_draw_samplers_keep_their_name_in_failure_messages():
    """The adapted sampler is named after ``draw`` (``'sampler'`` when ``draw`` has no name, e.g. a partial)."""
    import functools

    model = exact.pivotal_example()  # π_2 = (0, .5614, .2193, .2193): always drawing ab is far off
    target = kit.power_target(model, 2.0)

    def always_ab(m, rng):
        return [0, 1]

    nameless = functools.partial(lambda m, rng, token: [0, token], token=1)
    for draw, name in ((always_ab, "always_ab"), (nameless, "sampler")):
        with pytest.raises(AssertionError) as info:
            kit.assert_sampler_matches(kit.from_single_draws(draw), model, target, 50, np.random.default_rng(0))
        assert str(info.value).startswith(f"sampler '{name}' does not match the target: chi-square = ")


def test_power_conditionals_message_nan_shape_tolerance_edge_and_large_models():
    """The failure message in full (6 digits), a NaN candidate fails, a wrong shape is named, every
    prefix is checked, an error of exactly ``atol`` passes; beyond MAX_ENUMERATED the reference is ``exact.power_conditional`` at the given prefixes."""
    model = exact.pivotal_example()
    reference = kit.power_target(model, 2.0).sum(axis=1)  # π_2(y_1), brute force
    got = exact.temp_conditional(model, (), 2.0)
    error = float(np.max(np.abs(got - reference)))
    with pytest.raises(AssertionError) as info:
        kit.assert_power_conditionals(model, 2.0, candidate=exact.temp_conditional)
    assert str(info.value) == (
        f"power conditional at prefix [] (alpha = 2) is off by {error:.3g} > atol 1e-10:\n"
        f"  got      {np.array2string(got, precision=6)}\n  expected {np.array2string(reference, precision=6)}"
    )
    with pytest.raises(AssertionError, match=r"^power conditional at prefix \[0\] \(alpha = 2\) is off by inf > atol 1e-10:\n  got      \[nan nan\]"):
        kit.assert_power_conditionals(model, 2.0, candidate=lambda m, prefix, a: np.full(2, np.nan))
    with pytest.raises(AssertionError, match=r"^power conditional at prefix \[0\] has shape \(3,\), expected \(2,\)$"):
        kit.assert_power_conditionals(model, 2.0, candidate=lambda m, prefix, a: np.ones(3) / 3)
    reversed_after_the_first = lambda m, prefix, a: exact.power_conditional(m, prefix, a)[:: -1 if prefix else 1]  # noqa: E731
    with pytest.raises(AssertionError, match=r"^power conditional at prefix \[0\] \(alpha = 2\) is off by 1 > atol"):
        kit.assert_power_conditionals(model, 2.0, candidate=reversed_after_the_first)  # every prefix, not only []
    from exact.testing.assertions import _brute_force_power_conditional, enumerated_log_joint

    log_joint, off = enumerated_log_joint(model), np.array([0.75, 0.25])
    largest = max(np.max(np.abs(off - _brute_force_power_conditional(log_joint, k, 2.0))) for k in [(), (0,), (1,)])
    kit.assert_power_conditionals(model, 2.0, candidate=lambda m, prefix, a: off, atol=largest)  # an error of exactly atol passes
    large = exact.MarkovAR.random(10, 5, seed=0)  # 10^5 sequences > MAX_ENUMERATED
    with pytest.raises(ValueError, match=r"^the model has more than 20000 sequences: pass the prefixes to check$"):
        kit.assert_power_conditionals(large, 2.0)
    kit.assert_power_conditionals(large, 2.0, prefixes=[[], [3], [1, 4, 1, 5]])
    with pytest.raises(AssertionError, match=r"^power conditional at prefix \[3\] \(alpha = 2\) is off by"):
        kit.assert_power_conditionals(large, 2.0, candidate=exact.temp_conditional, prefixes=[[3]])


# -- mutation-found gaps (docs/mutation.md) ----------------------------------------------
class _IID:
    """``π(y) = Π_t p(y_t)`` with ``V = 2¹⁶`` tokens at each of 4 steps: ``V⁴ = 2⁶⁴`` sequences, an int64
    product of ``vocab_sizes`` that wraps to 0.  ``p`` puts 1/2 on tokens 0 and 1, so the power
    conditional at any prefix is ``p`` itself and ``Σ_z q(z)^α = (2 · 2^-α)^(T - t - 1)``."""

    V, horizon = 2**16, 4
    vocab_sizes = (V,) * 4

    def __init__(self):
        self._logp = np.full(self.V, -np.inf)
        self._logp[:2] = np.log(0.5)

    def log_conditional(self, prefix):
        return self._logp.copy()

    def next_token_logprobs(self, contexts):
        return np.tile(self._logp, (len(contexts), 1))

    def log_prob(self, sequences):
        return self._logp[np.asarray(sequences)].sum(axis=-1)

    def sample(self, n, rng):
        return rng.integers(2, size=(n, self.horizon))

    def log_power_suffix_mass(self, prefix, alpha):
        mass = (self.horizon - len(prefix) - 1) * np.log(2.0 * 0.5**alpha)
        return np.where(np.isfinite(self._logp), mass, -np.inf)

    def log_prefix_marginals(self, length):  # pragma: no cover - never called: too large
        raise NotImplementedError

    log_prefix_totals = log_prefix_marginals


def test_more_sequences_than_int64_counts_are_not_enumerated():
    """2⁶⁴ sequences: the kit samples (with ``rng``) or checks the given prefixes; it never takes the
    count for small (the int64 product of ``vocab_sizes`` is 0)."""
    model = _IID()
    kit.assert_autoregressive_factorization(model, rng=np.random.default_rng(0), n_samples=64)
    half = np.zeros(model.V)
    half[:2] = 0.5
    kit.assert_power_conditionals(model, 2.0, prefixes=[[], [1, 0, 1]])
    kit.assert_power_conditionals(model, 2.0, candidate=lambda m, prefix, a: half, prefixes=[[0]])
    with pytest.raises(ValueError, match=r"^the model has more than 20000 sequences: pass the prefixes to check$"):
        kit.assert_power_conditionals(model, 2.0)


class _Stop(Exception):
    pass


def test_enumeration_counts_sequences_without_overflow():
    """2⁶⁴ sequences (an int64 count of 0) are refused at once, never enumerated; the address space is
    capped for the call so that a miscount fails fast instead of filling the machine's memory."""
    resource = pytest.importorskip("resource")
    if not os.path.exists("/proc/self/statm"):
        pytest.skip("needs /proc/self/statm (Linux) to size the address-space cap")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as statm:
        used = int(statm.read().split()[0]) * resource.getpagesize()
    cap = used + 2**28 if hard == resource.RLIM_INFINITY else min(used + 2**28, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        with pytest.raises(ValueError, match=r"^18446744073709551616 sequences is too many to enumerate \(limit 20000\)"):
            kit.enumerated_log_joint(_IID())
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


class _Spy(InterfaceOnly):
    """The minimal interface with ``sample``, recording its calls and how many sequences ``log_prob`` was
    given, refusing non-integer contexts (token ids are integers); ``stop``: ``log_conditional``
    raises ``_Stop`` (to see which sequences were chosen without checking 20,000 of them)."""

    def __init__(self, model, stop=False):
        super().__init__(model)
        self._sample, self.stop, self.sizes, self.samples = model.sample, stop, [], []

    def sample(self, n, rng):
        self.samples.append(n)
        return self._sample(n, rng)

    def log_conditional(self, prefix):
        if self.stop:
            raise _Stop
        return super().log_conditional(prefix)

    def next_token_logprobs(self, contexts):
        assert np.issubdtype(np.asarray(contexts).dtype, np.integer), np.asarray(contexts).dtype
        return super().next_token_logprobs(contexts)

    def log_prob(self, sequences):
        self.sizes.append(len(sequences))
        return super().log_prob(sequences)


class _Float32(InterfaceOnly):
    """``log_prob`` (and ``log_joint`` when asked) in float32."""

    def __init__(self, model, joint=False):
        super().__init__(model)
        if joint:
            self.log_joint = lambda: model.log_joint().astype(np.float32)

    def log_prob(self, sequences):
        return super().log_prob(sequences).astype(np.float32)


def test_targets_beyond_max_enumerated_exactly_at_it_and_in_float64():
    """A dense joint is read whatever its size, the minimal interface is enumerated up to exactly
    MAX_ENUMERATED sequences (the error beyond names them), results are float64, and
    ``power_target`` of an exact model is ``exact.power_joint`` (its memory guard included)."""
    large = exact.MarkovAR.random(10, 5, seed=0)  # 10⁵ sequences, with log_joint
    assert np.array_equal(kit.enumerated_log_joint(large), large.log_joint())
    with pytest.raises(ValueError, match=r"^100000 sequences is too many to enumerate \(limit 20000\); pass them explicitly or an rng$"):
        kit.enumerated_log_joint(InterfaceOnly(large))
    edge = exact.TabularAR.random((200, 100), seed=4)  # exactly 20,000 sequences
    assert np.allclose(kit.enumerated_log_joint(InterfaceOnly(edge)), edge.log_joint(), rtol=0, atol=1e-12)
    small = exact.TabularAR.random(3, 2, seed=1)
    for model in (_Float32(small), _Float32(small, joint=True)):
        log_joint = kit.enumerated_log_joint(model)
        assert log_joint.dtype == np.float64 and np.allclose(log_joint, small.log_joint(), atol=1e-6)
    with exact.memory_limit(16), pytest.raises(ValueError, match=r"^the power joint needs 9 entries"):
        kit.power_target(small, 2.0)


def test_factorization_chooses_its_sequences_and_reads_them_as_integers():
    """Every sequence when at most MAX_ENUMERATED (exactly 20,000 included, ``rng`` or not), else
    ``n_samples = 256`` draws of ``model.sample(n_samples, rng)``, else an error naming the count;
    contexts are integer arrays; float-valued ``sequences`` are token ids."""
    large = exact.TabularAR.random((150, 134), seed=4)  # 20,100 sequences
    spy = _Spy(large)
    kit.assert_autoregressive_factorization(spy, rng=np.random.default_rng(0))
    assert (spy.samples, spy.sizes) == ([256], [256])
    with pytest.raises(ValueError, match=r"^20100 sequences is too many to enumerate \(limit 20000\); pass them explicitly or an rng$"):
        kit.assert_autoregressive_factorization(InterfaceOnly(large))
    spy = _Spy(exact.TabularAR.random((20_000,), seed=4), stop=True)
    with pytest.raises(_Stop):
        kit.assert_autoregressive_factorization(spy, rng=np.random.default_rng(0))
    assert spy.samples == []  # exactly MAX_ENUMERATED: enumerated, not sampled
    spy = _Spy(exact.TabularAR.random(3, 2, seed=1))
    kit.assert_autoregressive_factorization(spy, rng=np.random.default_rng(0))
    assert (spy.samples, spy.sizes) == ([], [9])
    spy = _Spy(exact.TabularAR.random(3, 2, seed=1))
    kit.assert_autoregressive_factorization(spy, sequences=np.array([[0.0, 1.0], [2.0, 2.0]]))
    assert spy.sizes == [2]


class _Edited(InterfaceOnly):
    """The minimal interface with edits: ``log_prob`` shifted (and cast to ``dtype``), conditionals
    shifted, rows of ``next_token_logprobs`` reversed (then ``log_conditional`` cast to ``dtype``),
    one sequence's ``log_prob`` set to ``-inf``."""

    def __init__(self, model, shift=0.0, dtype=np.float64, conditional_shift=0.0, reverse_batched=False, zero=None):
        super().__init__(model)
        self.shift, self.dtype, self.conditional_shift, self.reverse_batched, self.zero = shift, dtype, conditional_shift, reverse_batched, zero

    def log_conditional(self, prefix):
        return (super().log_conditional(prefix) + self.conditional_shift).astype(self.dtype if self.reverse_batched else np.float64)

    def next_token_logprobs(self, contexts):
        rows = super().next_token_logprobs(contexts) + self.conditional_shift
        return rows[:, ::-1] if self.reverse_batched else rows

    def log_prob(self, sequences):
        out = super().log_prob(sequences) + self.shift + self.horizon * self.conditional_shift
        if self.zero is not None:
            out[[tuple(y) for y in np.asarray(sequences).tolist()].index(self.zero)] = -np.inf
        return out.astype(self.dtype)


def test_factorization_messages_tolerance_and_zero_probability_prefixes():
    """Messages read from their start; ``atol`` reaches the normalisation check and an error of exactly
    ``atol`` passes; ``-inf`` matches only ``-inf``; a zero-probability prefix skips that sequence only;
    no numpy warning on ``-inf`` log-probabilities."""
    import warnings

    base = exact.TabularAR.random(3, 2, seed=1)
    model = _Edited(base, shift=-0.1, dtype=np.float32)
    direct, chained = np.float32(base.log_prob(np.array([[0, 0]]))[0] - 0.1), base.log_prob(np.array([[0, 0]]))[0]
    with pytest.raises(AssertionError) as info:
        kit.assert_autoregressive_factorization(model)
    assert str(info.value) == (
        f"chain rule fails on 9 of 9 sequences; e.g. y = [0, 0]: log_prob = {np.float64(direct)!r} "
        f"but Σ_t log π(y_t | y_<t) = {np.float64(chained)!r} (atol 1e-10)"
    )
    shifted = _Edited(base, shift=-0.1)
    error = np.max(np.abs(shifted.log_prob(_cells((3, 3))) - base.log_prob(_cells((3, 3)))))
    kit.assert_autoregressive_factorization(shifted, atol=error)  # exactly atol: passes
    with pytest.raises(AssertionError, match=r"^chain rule fails on 1 of 9 sequences; e.g. y = \[1, 2\]: log_prob = np\.float64\(-inf\) but"):
        kit.assert_autoregressive_factorization(_Edited(base, zero=(1, 2)))
    with pytest.raises(AssertionError, match=r"^log_conditional\(\[\]\) is not normalised: sum "):
        kit.assert_autoregressive_factorization(_Edited(base, conditional_shift=0.1))
    kit.assert_autoregressive_factorization(_Edited(base, conditional_shift=1e-8), atol=1e-6)
    reversed_rows = _Edited(base, reverse_batched=True, dtype=np.float32)  # float32 values, printed as float64
    log_cond = base.log_conditional(())
    with pytest.raises(AssertionError) as info:
        kit.assert_autoregressive_factorization(reversed_rows, atol=1e-6)  # float32 sums to 1 within 2e-8
    assert str(info.value) == (
        f"next_token_logprobs([[]]) = {log_cond[::-1]} disagrees with log_conditional = "
        f"{log_cond.astype(np.float32).astype(np.float64)}"
    )
    joint = np.full((2, 2, 2), 0.125)
    joint[0, 0] = 0.0  # π(y_1:2 = 00) = 0: no conditional at that prefix
    zeros = exact.TabularAR.from_joint(joint / joint.sum())
    with pytest.raises(AssertionError, match=r"^chain rule fails on 6 of 8 sequences; e.g. y = \[0, 1, 0\]"):
        kit.assert_autoregressive_factorization(_Edited(zeros, shift=-0.1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kit.assert_autoregressive_factorization(zeros)
        kit.assert_autoregressive_factorization(exact.pivotal_example())
        kit.temperature_target(exact.TabularAR.from_joint(np.array([[0.0, 0.0], [0.5, 0.5]])), 2.0)


def _cells(shape):
    return np.array(list(np.ndindex(*shape)), dtype=np.int64)


def _draws(counts):
    """Each sequence of the grid ``counts.shape`` repeated ``counts[sequence]`` times, in grid order."""
    counts = np.asarray(counts)
    return np.repeat(_cells(counts.shape), counts.reshape(-1), axis=0)


_POOLED_TARGET = np.array([[30, 30, 20, 20], [10, 10, 10, 10], [2, 0.5, 40, 17.5]]) / 200  # n = 200: E = weights
_POOLED_DRAWS = _draws([[40, 22, 20, 20], [12, 8, 10, 3], [0, 3, 40, 22]])  # E of 0.5, 2 and 10 pooled
_WORST_CELLS = (
    "  worst cells:\n"
    "    sequence              observed   expected  (O-E)/√E\n"
    "    (2, 1)                       3        0.5     +3.54\n"  # (3 - 0.5) / √0.5
    "    (1, 3)                       3       10.0     -2.21\n"
    "    (0, 0)                      40       30.0     +1.83\n"
    "    (0, 1)                      22       30.0     -1.46\n"
    "    (2, 0)                       0        2.0     -1.41"
)


def test_draws_match_message_in_full_levels_and_defaults():
    """The failure message in full (Pearson and G, pooled or not, the ``show = 5`` worst cells by
    ``|O - E| / √E``, ties in cell order); ``alpha_level`` in (0, 1) and ``p = alpha_level`` passes;
    the target's 1e-9 tolerance and message; ``min_expected`` is passed on."""
    import warnings

    for method, statistic in (("pearson", "chi-square = 12.42 on 9 dof, p = 0.19"), ("g", "G = 14.11 on 9 dof, p = 0.118")):
        with pytest.raises(AssertionError) as info:
            kit.assert_draws_match(_POOLED_DRAWS, _POOLED_TARGET, alpha_level=0.5, method=method)
        assert str(info.value) == (
            f"sampler does not match the target: {statistic} < alpha_level = 0.5 (n = 200, 10 cells, 3 small ones pooled).\n"
            + _WORST_CELLS
        )
    ties = _draws(np.reshape([5, 5, 6, 7, 3, 3, 7, 7, 4, 4, 7, 5, 4, 7, 4, 5, 6, 5, 3, 3], (4, 5)))  # |O - E| = 2 eight times
    with pytest.raises(AssertionError) as info:
        kit.assert_draws_match(ties, np.full((4, 5), 0.05), alpha_level=0.99, name="server")
    assert str(info.value) == (
        "server does not match the target: chi-square = 8.40 on 19 dof, p = 0.982 < alpha_level = 0.99 (n = 100, 20 cells).\n"
        "  worst cells:\n"
        "    sequence              observed   expected  (O-E)/√E\n"
        "    (0, 3)                       7        5.0     +0.89\n"
        "    (0, 4)                       3        5.0     -0.89\n"
        "    (1, 0)                       3        5.0     -0.89\n"
        "    (1, 1)                       7        5.0     +0.89\n"
        "    (1, 2)                       7        5.0     +0.89"
    )
    p_value = kit.goodness_of_fit(_POOLED_DRAWS, _POOLED_TARGET).p_value
    assert kit.assert_draws_match(_POOLED_DRAWS, _POOLED_TARGET, alpha_level=p_value).p_value == p_value  # p < level fails
    for level in (0.0, 1.0):
        with pytest.raises(ValueError, match=rf"^alpha_level must lie in \(0, 1\), got {level}$"):
            kit.assert_draws_match(_POOLED_DRAWS, _POOLED_TARGET, alpha_level=level)
    with pytest.raises(AssertionError, match=r"^target is not normalised: sum "):
        kit.assert_draws_match(_POOLED_DRAWS, 1.001 * _POOLED_TARGET)
    nearly = _POOLED_TARGET.copy()
    nearly[0, 0] += 5e-10  # within 1e-9
    assert kit.assert_draws_match(_POOLED_DRAWS, nearly, alpha_level=1e-6).n_pooled == 3
    assert kit.assert_draws_match(_POOLED_DRAWS, _POOLED_TARGET, alpha_level=1e-6, min_expected=0.0).n_pooled == 0
    model = exact.pivotal_example()  # π_2(aa) = 0: a cell of expected count 0, never drawn
    with warnings.catch_warnings(), pytest.raises(AssertionError, match="does not match"):
        warnings.simplefilter("error")
        kit.assert_draws_match(_draws([[0, 400], [300, 300]]), kit.power_target(model, 2.0))


class _Constant:
    """A sampler without ``__name__`` (a callable instance) that always returns ``draws``."""

    def __init__(self, draws):
        self.draws = np.asarray(draws)

    def __call__(self, model, n, rng):
        return self.draws[:n]


def test_sampler_matches_names_checks_n_and_shows_the_worst_cells():
    """``n`` a positive integer (messages from their start); a sampler without ``__name__`` is named by
    its type; ``show`` (5 by default) is passed on; negative token ids are a failure, not an error."""
    model = exact.TabularAR.from_joint(_POOLED_TARGET)
    rng = np.random.default_rng(0)
    sampler = _Constant(_POOLED_DRAWS)
    for n in (1.5, True, 0, -2):
        with pytest.raises(ValueError, match=rf"^n must be a positive integer, got {n!r}$"):
            kit.assert_sampler_matches(sampler, model, _POOLED_TARGET, n, rng)
    with pytest.raises(AssertionError) as info:
        kit.assert_sampler_matches(sampler, model, _POOLED_TARGET, 200, rng, alpha_level=0.5)
    assert str(info.value).startswith("sampler '_Constant' does not match the target: chi-square = 12.42 on 9 dof")
    assert str(info.value).endswith(_WORST_CELLS)
    with pytest.raises(AssertionError) as info:
        kit.assert_sampler_matches(sampler, model, _POOLED_TARGET, 200, rng, alpha_level=0.5, show=7)
    assert len(str(info.value).splitlines()) == 3 + 7
    point_mass = np.zeros((3, 4), dtype=bool)
    point_mass[2, 2] = True  # an indicator array is a target too
    assert kit.assert_sampler_matches(_Constant([[2, 2]] * 3), model, point_mass, 3, rng).n_cells == 1
    negative = lambda m, n, r: np.full((n, 2), -1)  # noqa: E731
    with pytest.raises(AssertionError, match=r"^the sampler returned token ids out of range for vocabulary sizes \(3, 4\)$"):
        kit.assert_sampler_matches(negative, model, _POOLED_TARGET, 5, rng)
