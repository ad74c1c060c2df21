"""The experiment pipeline of the paper (arXiv 2605.04542, Section 6, Appendix B.1), on top of the library.

Power self-distillation (Algorithm 1) and its evaluation (Table 1, Figures 2-3):

* :mod:`llm.experiments.tasks` -- prompt sources ``μ`` and true rewards ``r*`` (arithmetic,
  toy, the synthetic ``r_λ``); :mod:`llm.experiments.humaneval` runs HumanEval completions in
  :mod:`llm.experiments.sandbox`, talking plain data (:mod:`llm.experiments.plain_data`);
  :mod:`llm.experiments.benchmarks` -- MATH500, GSM8K, MBPP, GPQA-Diamond (hub or local file);
* :mod:`llm.experiments.statistics` -- pass@k, mean ± sd over seeds, Best-of-N, paired tests;
* :mod:`llm.experiments.teacher` -- resumable teacher data (Algorithm 1, lines 3-8);
* :mod:`llm.experiments.distill` -- LoRA student training (lines 9-11);
* :mod:`llm.experiments.evaluate` -- model × sampler rows of Table 1 (resumable records);
* :mod:`llm.experiments.shards` -- ``--shard i/k`` and the merge of shard records into one table;
* :mod:`llm.experiments.cli` -- ``python -m llm teacher|distill|evaluate|merge``.

This package imports the library (:mod:`llm`, samplers through :mod:`llm.methods`); the
library never imports it, so ``import llm`` loads none of it.
"""
