"""llm.audit: a tiny real Hugging Face LM with its exact law, and adapters from any sampler to draws.

References are independent of the code under test: the exact model is compared
with the network's own forward pass on every sequence (``itertools.product``,
one unbatched forward per completion), and the law of MH after a finite number
of steps with a brute-force transition table built here.  Chi-square checks use
fixed seeds and level ``P_MIN = 1e-3``: a correct sampler fails one of them with
probability 1e-3 (up to the chi-square approximation), i.e. about one spurious
failure of this file's six sampler checks in 170 runs.  Float32 network:
log-probs agree to ``TOL = 1e-5``.
"""

import itertools
import math
from collections import defaultdict

import numpy as np
import pytest
import torch

import exact
import exact.testing as kit
import llm
from llm.audit import hf_sampler_draws, llm_sampler_draws, tiny_causal_lm

P_MIN = 1e-3
TOL = 1e-5
V, EOS = 5, 3


@pytest.fixture(scope="module")
def tiny():
    return tiny_causal_lm(vocab_size=V, horizon=3, eos_token_id=EOS, seed=0)


@pytest.fixture(scope="module")
def tiny_no_eos():
    return tiny_causal_lm(vocab_size=V, horizon=3, eos_token_id=None, seed=0)


def _completion(y, eos):
    """The completion a padded sequence stands for: up to its first EOS (included)."""
    return list(y[: y.index(eos) + 1]) if eos is not None and eos in y else list(y)


# -- the builder ------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["tiny", "tiny_no_eos"])
def test_exact_model_is_the_networks_own_law(which, request):
    """log π(y | x) of the exact model = Σ_t log_softmax(network(x, y_<t))[y_t] over the completion,
    for every padded sequence; padded sequences with a non-EOS token after EOS have probability 0."""
    tiny = request.getfixturevalue(which)
    model, eos, prompt = tiny.exact_model, tiny.eos_token_id, list(tiny.prompt_ids)
    assert model.eos_token_id == eos and model.vocab_sizes == (V,) * 3
    sequences = list(itertools.product(range(V), repeat=3))
    got = model.log_prob(np.array(sequences))
    completions = []
    for y, logp in zip(sequences, got):
        completion = _completion(y, eos)
        if tuple(exact.pad_completions([completion], 3, eos)[0]) != y:  # not a state: tokens after EOS
            assert logp == -np.inf
            continue
        completions.append(completion)
        with torch.no_grad():
            logits = tiny.model(torch.tensor([prompt + completion])).logits[0].log_softmax(-1)
        reference = sum(float(logits[len(prompt) - 1 + t, v]) for t, v in enumerate(completion))
        assert logp == pytest.approx(reference, abs=TOL)
    scored = tiny.lm.score([prompt] * len(completions), completions)  # batched, left-padded path
    padded = exact.pad_completions(completions, 3, eos)
    np.testing.assert_allclose([float(s.sum()) for s in scored], model.log_prob(padded), atol=TOL)
    assert len(completions) == (85 if eos is not None else 125)  # 1 + 4 + 4·4·5 completions under EOS


def test_conditionals_are_far_from_uniform_and_depend_on_the_context(tiny):
    """Over the 21 prefixes without EOS: mean entropy ≤ 0.7 ln V (measured 0.60; transformers' own
    init gives 0.999), mean largest probability ≥ 0.5 (uniform: 0.2; measured 0.61), and the
    next-token law after two tokens depends on the first one: mean TV over pairs of prefixes
    sharing the last token ≥ 0.1 (measured 0.29)."""
    conditionals = {}
    for t in range(3):
        for prefix in itertools.product([v for v in range(V) if v != EOS], repeat=t):
            conditionals[prefix] = np.exp(tiny.exact_model.log_conditional(prefix))
    p = np.array(list(conditionals.values()))
    entropy = -(p * np.log(p)).sum(-1) / math.log(V)
    assert entropy.mean() <= 0.7 and p.max(-1).mean() >= 0.5
    pairs = [(a, b) for a in conditionals for b in conditionals if len(a) == len(b) == 2 and a[1] == b[1] and a < b]
    assert np.mean([0.5 * np.abs(conditionals[a] - conditionals[b]).sum() for a, b in pairs]) >= 0.1
    defaults = tiny_causal_lm().exact_model  # the builder docstring's numbers: 31 prefixes, no EOS
    p = np.array([np.exp(defaults.log_conditional(c)) for t in range(3) for c in itertools.product(range(V), repeat=t)])
    assert -(p * np.log(p)).sum(-1).mean() / math.log(V) == pytest.approx(0.54, abs=0.01)
    assert p.max(-1).mean() == pytest.approx(0.65, abs=0.01)
    flat = tiny_causal_lm(vocab_size=V, horizon=1, sharpness=0.01).exact_model.joint()
    assert np.abs(flat - 1 / V).max() < 0.01  # sharpness is what moves it away from uniform


def test_tokenizer_maps_each_token_to_one_character(tiny, tiny_no_eos):
    assert tiny.tokenizer("ab$e", add_special_tokens=False)["input_ids"] == [0, 1, EOS, 4]
    assert tiny.tokenizer.decode([0, 2, EOS]) == "ac$" and tiny.tokenizer.decode([0, 2, EOS], skip_special_tokens=True) == "ac"
    assert tiny.tokenizer.eos_token_id == tiny.tokenizer.pad_token_id == EOS and tiny.tokenizer.bos_token_id is None
    assert tiny_no_eos.tokenizer.decode(list(range(V))) == "abcde" and tiny_no_eos.lm.eos_token_id is None
    assert tiny.model.generation_config.eos_token_id == EOS and tiny.lm.eos_token_id == EOS
    assert tiny.model.lm_head.weight.data_ptr() != tiny.model.model.embed_tokens.weight.data_ptr()  # untied


def test_builder_is_a_function_of_its_seed_and_leaves_the_global_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    first = tiny_causal_lm(horizon=2, seed=5).exact_model.log_joint()
    assert torch.rand(1) == expected
    np.testing.assert_array_equal(tiny_causal_lm(horizon=2, seed=5).exact_model.log_joint(), first)
    assert np.abs(tiny_causal_lm(horizon=2, seed=6).exact_model.log_joint() - first).max() > 0.1


def test_builder_rejects_bad_arguments():
    for kwargs in [dict(vocab_size=1), dict(vocab_size=27), dict(horizon=0), dict(eos_token_id=5), dict(prompt_ids=()),
                   dict(prompt_ids=(5,)), dict(sharpness=0.0), dict(sharpness=float("inf")), dict(hidden_size=6), dict(num_layers=0)]:
        with pytest.raises(ValueError):
            tiny_causal_lm(**kwargs)


# -- HFModel on an in-memory model ----------------------------------------------------------
def test_hfmodel_wraps_an_in_memory_network_without_tokenizer_files(tiny):
    bare = llm.HFModel.from_model(tiny.model)  # no tokenizer at all: EOS from the generation config
    assert bare.eos_token_id == EOS and bare.vocab_size == V
    contexts = [[0], [0, 1, 2], [4, 4]]
    np.testing.assert_allclose(bare.next_token_logprobs(contexts).numpy(), tiny.lm.next_token_logprobs(contexts).numpy(), atol=TOL)
    with pytest.raises(ValueError, match="no tokenizer"):
        bare.encode("ab")
    assert tiny.lm.encode("abc") == [0, 1, 2] and tiny.lm.decode([0, EOS]) == "a"


@pytest.mark.parametrize("tokenizer", [False, True])
def test_empty_prompts_are_value_errors(tiny, tokenizer):
    """No BOS (no tokenizer, or one without bos_token): every entry point says so, no AttributeError."""
    lm = tiny.lm if tokenizer else llm.HFModel.from_model(tiny.model)
    g = torch.Generator().manual_seed(0)
    calls = [
        lambda: lm.score([[]], [[1]]),
        lambda: lm.start([[]]),
        lambda: lm.next_token_logprobs([[0], []]),
        lambda: llm.sample_standard(lm, [], 2, g, max_new_tokens=2),
        lambda: llm.sample_temperature(lm, [], 2, 0.5, g, max_new_tokens=2),
        lambda: llm.sample_power_mh(lm, [], 2, 2.0, g, 2, 1, max_new_tokens=2, progress=False),
        lambda: llm.sample_power_scalable(lm, [], 2, 2.0, g, max_new_tokens=2, progress=False),
        lambda: llm.sample_power_smc(lm, [], 2, 2.0, g, max_new_tokens=2),
        lambda: llm.sample_best_of_n(lm, [], 2, 2, g, max_new_tokens=2),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="empty prompt"):
            call()


# -- user code calling generate -------------------------------------------------------------
def generate_sampler(top_p=1.0, seeding="seeded", text=False):
    """User code as it is written in the wild: ``model.generate`` with the global torch RNG."""

    def sample(model, tokenizer, prompt_ids, n, seed):
        with torch.random.fork_rng():
            if seeding == "seeded":
                torch.manual_seed(seed)
            elif seeding == "fixed":
                torch.manual_seed(1234)  # ignores its seed
            else:
                torch.seed()  # never seeded: fresh entropy on every call
            out = model.generate(
                torch.tensor([prompt_ids] * n), attention_mask=torch.ones(n, len(prompt_ids), dtype=torch.long),
                do_sample=True, top_k=0, top_p=top_p, temperature=1.0, max_new_tokens=3,
            )
        return tokenizer.batch_decode(out, skip_special_tokens=True) if text else out

    return sample


@pytest.mark.parametrize("which", ["tiny", "tiny_no_eos"])
def test_generate_with_plain_sampling_matches_the_base_law(which, request):
    tiny = request.getfixturevalue(which)
    draws = hf_sampler_draws(generate_sampler(), tiny, 2000, seed=0)
    kit.assert_draws_match(draws, tiny.exact_model.joint(), alpha_level=P_MIN)
    texts = hf_sampler_draws(generate_sampler(text=True), tiny, 2000, seed=0)  # decoded, EOS skipped
    np.testing.assert_array_equal(texts, draws)


def test_generate_with_nucleus_top_p_is_caught(tiny):
    """top_p = 0.9 drops each step's tail below 10% mass: p ≈ 1e-28 at n = 2000 (measured over 6 seeds)."""
    draws = hf_sampler_draws(generate_sampler(top_p=0.9), tiny, 2000, seed=0)
    with pytest.raises(AssertionError, match="does not match the target"):
        kit.assert_draws_match(draws, tiny.exact_model.joint(), alpha_level=P_MIN)


def test_generate_adapter_rejects_rows_that_are_not_completions(tiny):
    def returns(rows):
        return lambda model, tokenizer, prompt_ids, n, seed: rows

    cases = {
        "cut short": [[0, 1, 2]],  # prompt + 2 tokens, no EOS, T = 3
        "after its EOS": [[0, EOS, 1, 0]],
        "more than T": [[0, 1, 2, 4, 1]],
        "start with the prompt": [[1, 1, 2, 4]],
    }
    for message, rows in cases.items():
        with pytest.raises(AssertionError, match=message):
            hf_sampler_draws(returns(rows), tiny, 1)
    padded = hf_sampler_draws(returns([[0, 1, EOS, EOS], [0, 2, 4, 1], [0, EOS, EOS, EOS]]), tiny, 3)
    np.testing.assert_array_equal(padded, [[1, EOS, EOS], [2, 4, 1], [EOS, EOS, EOS]])
    np.testing.assert_array_equal(hf_sampler_draws(returns([[4, EOS]]), tiny, 1, includes_prompt=False), [[4, EOS, EOS]])


def test_reproducibility_check_catches_unseeded_and_seed_ignoring_generators(tiny):
    """50 draws: two seeds coincide with probability ≤ (max_y π(y))^50 < 1e-25 (max_y π(y) = 0.28)."""
    assert tiny.exact_model.joint().max() < 0.3
    draws = lambda sampler: lambda seed: hf_sampler_draws(sampler, tiny, 50, seed)  # noqa: E731
    kit.assert_reproducible(draws(generate_sampler()), name="seeded generate")
    with pytest.raises(AssertionError, match="not reproducible.*never seeded"):
        kit.assert_reproducible(draws(generate_sampler(seeding="unseeded")))
    with pytest.raises(AssertionError, match="ignores its seed"):
        kit.assert_reproducible(draws(generate_sampler(seeding="fixed")))
    kit.assert_reproducible(lambda seed: llm_sampler_draws(llm.sample_standard, tiny.lm, tiny.prompt_ids, 50, seed, 3))


# -- our llm samplers through HFModel on the tiny EOS model -------------------------------------
def test_standard_and_temperature_sampling_match_their_laws(tiny):
    model, prompt = tiny.exact_model, tiny.prompt_ids
    draws = llm_sampler_draws(llm.sample_standard, tiny.lm, prompt, 2000, seed=1, max_new_tokens=3)
    kit.assert_draws_match(draws, model.joint(), alpha_level=P_MIN)
    draws = llm_sampler_draws(llm.sample_temperature, tiny.lm, prompt, 2000, seed=2, max_new_tokens=3, temperature=0.5)
    kit.assert_draws_match(draws, kit.temperature_target(model, 2.0), alpha_level=P_MIN)


def mh_law_bruteforce(model, alpha, block_size, n_mcmc):
    """Law of ``llm.sample_power_mh``'s output (proposal at temperature 1/α), by enumeration of completions.

    Block ``k`` ends at ``L = min((k+1)B, T)``; a chain already ended at EOS skips it.  Otherwise it
    extends to ``L`` (or EOS) with the proposal, then each step draws ``m ~ U{1..|y|}``, redraws
    ``y'_{m:}`` and accepts with ``min(1, π(y')^α q(y_{m:}) |y| / (π(y)^α q(y'_{m:}) |y'|))``.
    Only ``model.log_conditional`` (the model's data) is used.
    """
    T, eos = model.horizon, model.eos_token_id
    ended = lambda y: bool(y) and y[-1] == eos  # noqa: E731
    cache = {}

    def conditionals(prefix):  # (log π(· | prefix), log q(· | prefix))
        if prefix not in cache:
            logp = np.asarray(model.log_conditional(prefix), dtype=float)
            cache[prefix] = (logp, alpha * logp - np.logaddexp.reduce(alpha * logp))
        return cache[prefix]

    def extensions(prefix, end):  # (suffix, log π(suffix | prefix), log q(suffix | prefix))
        if len(prefix) == end or ended(prefix):
            yield (), 0.0, 0.0
            return
        logp, logq = conditionals(prefix)
        for v in range(len(logp)):
            for z, a, b in extensions(prefix + (v,), end):
                yield (v,) + z, logp[v] + a, logq[v] + b

    def tail(y, m):  # log π(y_{m:} | y_{<m}), log q(y_{m:} | y_{<m})
        return tuple(sum(conditionals(y[:t])[i][y[t]] for t in range(m - 1, len(y))) for i in (0, 1))

    dist = {(): 1.0}
    for k in range(-(-T // block_size)):
        end = min((k + 1) * block_size, T)
        active, frozen = defaultdict(float), {}
        for y, p in dist.items():
            if ended(y):
                frozen[y] = p
                continue
            for z, _, logq in extensions(y, end):
                active[y + z] += p * math.exp(logq)
        for _ in range(n_mcmc):
            step = defaultdict(float)
            for y, p in active.items():
                for m in range(1, len(y) + 1):
                    logp_y, logq_y = tail(y, m)
                    for z, logp_z, logq_z in extensions(y[: m - 1], end):
                        y2 = y[: m - 1] + z
                        log_ratio = alpha * (logp_z - logp_y) + logq_y - logq_z + math.log(len(y) / len(y2))
                        accept = math.exp(min(0.0, log_ratio))
                        weight = p / len(y) * math.exp(logq_z)
                        step[y2] += weight * accept
                        step[y] += weight * (1 - accept)
            active = step
        dist = defaultdict(float, frozen)
        for y, p in active.items():
            dist[y] += p
    out = np.zeros(model.vocab_sizes)
    for y, p in dist.items():
        out[tuple(exact.pad_completions([y], T, eos)[0])] += p
    return out


def test_power_mh_matches_its_exact_law_after_few_steps(tiny):
    """B = T = 3, 4 MH steps, α = 2: the law is far from π_α (TV 0.16) and the missing Hastings factor
    |y|/|y'| moves it by χ² = 0.046, caught with probability 0.993 at n = 1000 (pooled noncentral χ²)."""
    law = exact.mh_output_distribution(tiny.exact_model, 2.0, 3, 4).probabilities
    np.testing.assert_allclose(law, mh_law_bruteforce(tiny.exact_model, 2.0, 3, 4), atol=1e-12)
    draws = llm_sampler_draws(
        llm.sample_power_mh, tiny.lm, tiny.prompt_ids, 1000, seed=3, max_new_tokens=3,
        alpha=2.0, block_size=3, n_mcmc=4, progress=False,
    )
    kit.assert_draws_match(draws, law, alpha_level=P_MIN, name="llm.sample_power_mh on HFModel")


def test_power_mh_with_enough_steps_matches_the_power_distribution():
    """A faster-mixing tiny model (seed 3): after 4 steps χ²(MH law ‖ π_α) = 3e-4, so n = 1000 draws
    test against π_α itself (false alarms 0.0011 instead of 1e-3, pooled noncentral χ²); without
    the Hastings factor χ² = 0.046 (caught with probability 0.9996)."""
    tiny = tiny_causal_lm(vocab_size=V, horizon=3, eos_token_id=EOS, seed=3)
    target = exact.power_joint(tiny.exact_model, 2.0)
    law = mh_law_bruteforce(tiny.exact_model, 2.0, 3, 4)
    support = target > 0
    assert ((law - target)[support] ** 2 / target[support]).sum() < 1e-3 and law[~support].sum() == 0
    draws = llm_sampler_draws(
        llm.sample_power_mh, tiny.lm, tiny.prompt_ids, 1000, seed=4, max_new_tokens=3,
        alpha=2.0, block_size=3, n_mcmc=4, progress=False,
    )
    kit.assert_draws_match(draws, target, alpha_level=P_MIN, name="llm.sample_power_mh on HFModel")
