"""The real default model (SmolLM2-135M-Instruct, float32), loaded once per session (conftest).

Fast paths are checked against a naive token-by-token reference: one context
at a time, one forward pass per token, no padding, no cache reuse.  Tolerance
1e-4 on log-probs (float32 network; differences come from summation order).
"""

import itertools

import numpy as np
import pytest
import torch

import llm

TOL = 1e-4


def reference_logprobs(lm, prompt, completion):
    """Naive reference: ``log π(y_t | x, y_<t)`` with a fresh unpadded forward pass per token."""
    return torch.tensor(
        [float(lm.next_token_logprobs([list(prompt) + list(completion[:t])])[0, completion[t]]) for t in range(len(completion))]
    )


@pytest.fixture(scope="module")
def prompts(real_model):
    return [
        real_model.encode("The capital of France is"),
        real_model.encode("What is 2 + 3?", chat=True),
        real_model.encode("1, 2, 3,"),
    ]


def test_default_model_loads_offline(real_model):
    assert real_model.vocab_size == 49152
    assert real_model.eos_token_id == real_model.tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert isinstance(real_model, llm.LanguageModel)


def test_batched_padded_scoring_equals_token_by_token(real_model, prompts):
    completions = [real_model.encode(" Paris, of course."), real_model.encode("5"), real_model.encode(" 4, 5, 6, 7")]
    batched = real_model.score(prompts, completions)
    for prompt, completion, scores in zip(prompts, completions, batched):
        assert scores.shape == (len(completion),)
        np.testing.assert_allclose(scores.numpy(), reference_logprobs(real_model, prompt, completion).numpy(), atol=TOL)


def test_next_token_logprobs_batched_equals_single(real_model, prompts):
    batched = real_model.next_token_logprobs(prompts)
    assert torch.allclose(torch.logsumexp(batched, -1), torch.zeros(3, dtype=torch.float64), atol=TOL)
    for i, prompt in enumerate(prompts):
        single = real_model.next_token_logprobs([prompt])[0]
        assert float((batched[i] - single).abs().max()) < TOL


def test_decode_state_fork_and_truncate_reuse_the_cache(real_model, prompts):
    """Cached states (left-padded batch, forked, truncated) give the reference next-token log-probs."""
    state = real_model.start(prompts[:2])
    steps = [[11, 29], [28, 30], [216, 31]]
    for step in steps:
        state.logprobs()
        state.append(torch.tensor(step))
    rows = [p + [s[i] for s in steps] for i, p in enumerate(prompts[:2])]
    np.testing.assert_allclose(state.logprobs().numpy(), real_model.next_token_logprobs(rows).numpy(), atol=TOL)
    fork = state.fork([1, 0, 1], length=1)
    expected = real_model.next_token_logprobs([rows[1][: len(prompts[1]) + 1], rows[0][: len(prompts[0]) + 1]])
    np.testing.assert_allclose(fork.logprobs()[:2].numpy(), expected.numpy(), atol=TOL)
    state.truncate(0)
    np.testing.assert_allclose(state.logprobs().numpy(), real_model.next_token_logprobs(prompts[:2]).numpy(), atol=TOL)


def test_sampled_logprobs_equal_fresh_scoring(real_model, prompts):
    """Standard, temperature, MH and SMC completions: returned log-probs == a fresh batched scoring."""
    generator = torch.Generator().manual_seed(0)
    prompt = prompts[1]
    runs = [
        llm.sample_standard(real_model, prompt, 3, generator, max_new_tokens=8),
        llm.sample_temperature(real_model, prompt, 2, 0.5, generator, max_new_tokens=8),
        llm.sample_power_mh(real_model, prompt, 1, 4.0, generator, block_size=4, n_mcmc=2, max_new_tokens=8),
        llm.sample_power_smc(real_model, prompt, 4, 4.0, generator, max_new_tokens=6),
    ]
    for run in runs:
        rescored = real_model.score([prompt] * len(run), run.tokens)
        for tokens, returned, fresh in zip(run.tokens, run.logprobs, rescored):
            assert 1 <= len(tokens) <= 8
            if real_model.eos_token_id in tokens:
                assert tokens.index(real_model.eos_token_id) == len(tokens) - 1
            np.testing.assert_allclose(returned.numpy(), fresh.numpy(), atol=TOL)


def test_self_reward_masks_the_prompt(real_model, prompts):
    completions = [real_model.encode(" Paris."), real_model.encode("5")]
    reward = llm.self_reward(real_model, prompts[:2], completions)
    for i in range(2):
        reference = reference_logprobs(real_model, prompts[i], completions[i])
        assert float(reward.total[i]) == pytest.approx(float(reference.sum()), abs=TOL * len(reference))
        assert float(reward.mean[i]) == pytest.approx(float(reference.mean()), abs=TOL)


def test_enumerate_exact_digits(real_model):
    """Ten digit tokens, T = 2: the toy's conditionals are the renormalised restricted model log-probs."""
    digits = [real_model.tokenizer.convert_tokens_to_ids(str(d)) for d in range(10)]
    prompt = real_model.encode("Random digits: 4")
    toy = llm.enumerate_exact(real_model, prompt, digits, 2)
    assert toy.vocab_sizes == (10, 10)
    assert float(toy.joint().sum()) == pytest.approx(1.0, abs=1e-12)
    for prefix in [(), (3,), (7,)]:
        logp = real_model.next_token_logprobs([prompt + [digits[i] for i in prefix]])[0, digits].double()
        np.testing.assert_allclose(toy.log_conditional(prefix), torch.log_softmax(logp, 0).numpy(), atol=1e-6)
