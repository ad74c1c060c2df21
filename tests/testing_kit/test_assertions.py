"""exact.testing.assertions: each helper passes on right inputs and catches a planted mistake."""

import itertools
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
