"""The real default model (SmolLM2-135M-Instruct, float32), loaded once per session (conftest).

Fast paths are checked against a naive token-by-token reference: one context
at a time, one forward pass per token, no padding, no cache reuse.  Tolerance
1e-4 on log-probs (float32 network; differences come from summation order).
"""


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
    assert type(state.cache.layers[0]).__name__ == "AppendLayer"  # the append-in-place cache is the one under test
    fork = state.fork([1, 0, 1], length=1)
    expected = real_model.next_token_logprobs([rows[1][: len(prompts[1]) + 1], rows[0][: len(prompts[0]) + 1]])
    np.testing.assert_allclose(fork.logprobs()[:2].numpy(), expected.numpy(), atol=TOL)
    state.truncate(0)
    np.testing.assert_allclose(state.logprobs().numpy(), real_model.next_token_logprobs(prompts[:2]).numpy(), atol=TOL)


def _cached_state(lm, context):
    """A batch-1 state of ``context`` whose cache covers all of it but the last token."""
    state = lm.start([context[:-1]])
    state.logprobs()
    state.append(torch.tensor([context[-1]]))
    return state


def test_ragged_batch_rows_join_and_leave(real_model, prompts):
    """Rows of different lengths, joining, refilled and dropped mid-decode: reference log-probs, one token pushed per row."""
    batch = real_model.ragged_batch()
    contexts = [prompts[0] + [11], prompts[2]]
    for context in contexts:
        batch.put(None, _cached_state(real_model, context))

    def step(tokens):
        calls, pushed = real_model.counter.snapshot()
        logp = batch.logprobs()
        assert real_model.counter.snapshot()[1] - pushed == len(contexts)  # no padding, no re-encoding
        np.testing.assert_allclose(logp.numpy(), real_model.next_token_logprobs(contexts).numpy(), atol=TOL)
        batch.append(torch.tensor(tokens))
        for context, token in zip(contexts, tokens):
            context.append(token)

    step([28, 29])
    contexts.append(prompts[1][:5])  # joins mid-way, shorter than the others, not prefilled yet
    batch.put(None, real_model.start([contexts[-1]]))
    step([30, 31, 32])
    taken = batch.take(0)  # copied out: its own cache, the batch unchanged
    assert taken.ids[0].tolist() == contexts[0] and taken.completion()[0].tolist() == [11, 28, 30]
    contexts[1] = prompts[1] + [216, 33]  # refilled by a row longer than the batch is wide
    batch.put(1, _cached_state(real_model, contexts[1]))
    step([34, 35, 36])
    batch.drop([0])
    contexts.pop(0)
    step([37, 38])
    np.testing.assert_allclose(taken.logprobs().numpy(), real_model.next_token_logprobs([taken.ids[0].tolist()]).numpy(), atol=TOL)


def test_sampled_logprobs_equal_fresh_scoring(real_model, prompts):
    """Every sampler's completions: returned log-probs == a fresh batched scoring; EOS only at the end."""
    generator = torch.Generator().manual_seed(0)
    prompt = prompts[1]
    runs = [
        llm.sample_standard(real_model, prompt, 3, generator, max_new_tokens=8),
        llm.sample_temperature(real_model, prompt, 2, 0.5, generator, max_new_tokens=8),
        llm.sample_power_mh(real_model, prompt, 1, 4.0, generator, block_size=4, n_mcmc=2, max_new_tokens=8),
        llm.sample_power_smc(real_model, prompt, 4, 4.0, generator, max_new_tokens=6),
        llm.sample_power_scalable(real_model, prompt, 1, 4.0, generator, top_k=2, n_rollouts=2, rollout_horizon=2, max_new_tokens=4),
        llm.sample_best_of_n(real_model, prompt, 2, 2, generator, max_new_tokens=6),
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
        np.testing.assert_allclose(toy.log_conditional(prefix), torch.log_softmax(logp, 0).numpy(), atol=TOL)


def test_mh_batched_chains_match_sequential_and_naive(real_model, prompts):
    """Three chains: batched in lockstep == one at a time == naive re-encoding, token for token."""
    kwargs = dict(block_size=3, n_mcmc=1, max_new_tokens=6, progress=False)
    runs = [
        llm.sample_power_mh(real_model, prompts[1], 3, 4.0, torch.Generator().manual_seed(1), **kwargs),
        llm.sample_power_mh(real_model, prompts[1], 3, 4.0, torch.Generator().manual_seed(1), batch_chains=False, **kwargs),
        llm.sample_power_mh(real_model, prompts[1], 3, 4.0, torch.Generator().manual_seed(1), reuse_cache=False, **kwargs),
    ]
    assert runs[0].tokens == runs[1].tokens == runs[2].tokens
    assert runs[0].efficiency >= 0.95  # continuous batching decodes no padding
    for tokens, returned, fresh in zip(runs[0].tokens, runs[0].logprobs, real_model.score([prompts[1]] * 3, runs[0].tokens)):
        np.testing.assert_allclose(returned.numpy(), fresh.numpy(), atol=TOL)


def test_mh_chains_stopping_at_eos_match_across_schedules(real_model):
    """Chains whose proposals stop at EOS leave and rejoin the batch: same tokens in every schedule."""
    prompt = real_model.encode("Reply with one word: yes or no?", chat=True)
    kwargs = dict(block_size=3, n_mcmc=2, max_new_tokens=9, progress=False)
    runs = [
        llm.sample_power_mh(real_model, prompt, 4, 4.0, torch.Generator().manual_seed(2), batch_chains=batch, reuse_cache=reuse, **kwargs)
        for batch, reuse in [(True, True), (False, True), (False, False)]
    ]
    assert any(real_model.eos_token_id in tokens for tokens in runs[0].tokens)  # the case under test happens
    assert runs[0].tokens == runs[1].tokens == runs[2].tokens
    assert runs[0].efficiency >= 0.95
    for returned, fresh in zip(runs[0].logprobs, real_model.score([prompt] * 4, runs[0].tokens)):
        np.testing.assert_allclose(returned.numpy(), fresh.numpy(), atol=TOL)


def test_mh_cache_reuse_matches_naive_reencoding(real_model, prompts):
    """Same seed, same outputs; the cached version pushes fewer tokens and wastes almost none."""
    kwargs = dict(block_size=4, n_mcmc=2, max_new_tokens=8, progress=False)
    fast = llm.sample_power_mh(real_model, prompts[0], 1, 4.0, torch.Generator().manual_seed(3), **kwargs)
    slow = llm.sample_power_mh(real_model, prompts[0], 1, 4.0, torch.Generator().manual_seed(3), reuse_cache=False, **kwargs)
    assert fast.tokens == slow.tokens
    assert fast.required_tokens == slow.required_tokens
    assert fast.forward_tokens < slow.forward_tokens
    assert fast.efficiency >= 0.9


def test_cli_all_methods(real_model, monkeypatch, capsys):
    """``python -m llm sample`` for every method (the session model is injected; tiny budgets)."""
    import json

    from llm.__main__ import METHODS, main

    monkeypatch.setattr(llm, "HFModel", lambda *args, **kwargs: real_model)
    for method in METHODS:
        argv = ["sample", "--method", method, "--alpha", "4", "--prompt", "1, 2, 3,", "--n", "2", "--max-new-tokens", "3",
                "--block-size", "2", "--n-mcmc", "1", "--top-k", "2", "--rollouts", "2", "--particles", "3", "--candidates", "2"]
        assert main(argv) == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
        assert len(lines) == 2, method
        for record in lines:
            assert set(record) >= {"completion", "self_reward", "tokens", "model_calls", "seconds"}
            assert 1 <= record["n_tokens"] <= 3 and record["method"] == method


def test_eos_stops_a_row_and_is_kept(real_model):
    """A chat answer at low temperature ends with EOS before max_new_tokens; the EOS token and its log-prob are kept."""
    prompt = real_model.encode("Answer with a single word: is the sky blue?", chat=True)
    out = llm.sample_temperature(real_model, prompt, 4, 0.25, torch.Generator().manual_seed(0), max_new_tokens=12)
    ended = [t for t in out.tokens if t[-1] == real_model.eos_token_id]
    assert ended, out.tokens
    assert any(len(t) < 12 for t in ended)
    for tokens, logp in zip(out.tokens, out.logprobs):
        assert len(tokens) == len(logp) and real_model.eos_token_id not in tokens[:-1]


@pytest.mark.slow  # ~30 s: `python -m bench llm --quick` end to end; the samplers it times are tested above
def test_bench_quick_runs(real_model, monkeypatch, capsys):
    """``python -m bench llm --quick`` (session model injected): identical outputs, efficiency >= 0.9."""
    import json

    from bench.llm import main

    monkeypatch.setattr(llm, "HFModel", lambda *args, **kwargs: real_model)
    assert main(["--quick"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(rows) == 4
    for row in rows:
        assert row["identical_outputs"] and row["naive_efficiency"] < 0.5
        assert row["cached_efficiency"] >= (0.5 if "chains" in row["sampler"] else 0.9)


def test_from_model_wraps_a_loaded_network_without_copying(real_model, prompts):
    wrapped = llm.HFModel.from_model(real_model.model, real_model.tokenizer, name="same", template=real_model)
    assert wrapped.model is real_model.model and wrapped.eos_token_id == real_model.eos_token_id
    np.testing.assert_allclose(
        wrapped.next_token_logprobs(prompts[:1]).numpy(), real_model.next_token_logprobs(prompts[:1]).numpy(), atol=1e-6
    )


def test_the_cache_keyword_follows_the_installed_transformers():
    """transformers < 5.20 (vLLM's CPU build pins one) names the KV cache ``past_key_values``; later ones ``cache``."""
    from llm.hf.cache import cache_keyword

    class Old:
        def forward(self, input_ids=None, past_key_values=None, use_cache=None, **kwargs): ...

    class New:
        def forward(self, input_ids=None, cache=None, use_cache=None, **kwargs): ...

    assert cache_keyword(Old()) == "past_key_values" and cache_keyword(New()) == "cache"
