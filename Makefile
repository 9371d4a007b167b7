# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test chat serve bench bench-strands eval devset clean sam-check sam-build endpoint-params

$(VENV)/.local: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[local]'
	touch $@

$(VENV)/.dev: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[dev]'
	touch $(VENV)/.local $@

demo: $(VENV)/.local  ## the blog's cases through the Lex handler, on the embedded defaults
	$(PY) -m orchestrator demo

chat: $(VENV)/.local  ## talk to the agent in a terminal
	$(PY) -m orchestrator chat

PORT ?= 8000
serve: $(VENV)/.local  ## a chat page on http://127.0.0.1:$(PORT)/ over the Lex handler (Ctrl-C to stop)
	$(PY) -m orchestrator serve --port $(PORT)

test: $(VENV)/.dev sam-check  ## the whole test suite: template lint and build, then pytest
	$(PY) -m pytest

bench: $(VENV)/.dev  ## import cost, per-turn latency, router-embedding figures and the fault table
	$(PY) benchmarks/import_cost.py
	$(PY) benchmarks/turn_latency.py
	$(PY) benchmarks/router_embedders.py
	$(PY) benchmarks/fault_table.py
	@if [ -x .venv-bench/bin/python ]; then .venv-bench/bin/python benchmarks/vs_strands.py; \
	else $(PY) benchmarks/vs_strands.py; echo "  (make bench-strands installs Strands Agents into .venv-bench/)"; fi

bench-strands:  ## our loop next to Strands Agents, in its own environment (.venv-bench/)
	test -x .venv-bench/bin/python || $(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip --disable-pip-version-check -q install -r benchmarks/requirements-strands.txt -e .
	.venv-bench/bin/python benchmarks/vs_strands.py

eval: $(VENV)/.local  ## score the embedded default on the committed evaluation sets (evals/)
	@for set in devset heldout unseen_tools; do echo "== evals/$$set.jsonl"; $(PY) -m orchestrator eval evals/$$set.jsonl --tools lookups | sed '$$d'; echo; done
	@for set in devset heldout; do echo "== evals/$$set.jsonl, every tool (cancelling is served: its lines, labelled refuse, now ask who the customer is)"; $(PY) -m orchestrator eval evals/$$set.jsonl | sed '$$d'; echo; done

# A local LLM for benchmarks only (make llm, make eval-llm, make llm-stop): see llm.mk.
include llm.mk

DATA_DIR ?= ../shared/data
devset:  ## rebuild evals/*.jsonl from the public data sets in DATA_DIR
	$(PYTHON) scripts/build_devset.py --data-dir $(DATA_DIR)

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache build *.egg-info

# ---- AWS (see README "Deploying to AWS") ---------------------------------------------------
SAM_VENV ?= .venv-sam
SAM := $(SAM_VENV)/bin/sam
CFN_LINT := $(SAM_VENV)/bin/cfn-lint

# aws-sam-cli pins exact boto3 and click versions: it gets a virtual environment of its own.
$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip --disable-pip-version-check -q install -r requirements-sam.txt
	touch $@

sam-check: $(SAM_VENV)/.installed  ## lint the template and build every function, offline
	$(CFN_LINT) template.yaml
	SAM_CLI_TELEMETRY=0 $(SAM) validate --lint --region us-east-1
	SAM_CLI_TELEMETRY=0 $(SAM) build --build-in-source --build-dir .aws-sam/build

sam-build: sam-check

endpoint-params: $(VENV)/.dev  ## print SAM parameter overrides for the JumpStart model (needs AWS access)
	$(PY) -m endpoint params

# `sam build` runs these (BuildMethod: makefile): each function gets only its own package.
# The orchestrator's package is its runtime only: no eval, CLI or sample-event code.
# serve.py is the local chat page; its web/ files are not .py, so the find below never copies them.
LAMBDA_EXCLUDES := orchestrator/evaluate.py orchestrator/cli.py orchestrator/__main__.py \
	orchestrator/reward_lambda.py orchestrator/samples.py orchestrator/toolspecs.py orchestrator/serve.py \
	orchestrator/converse.py orchestrator/training.py orchestrator/sample_specs.py
build-OrchestratorFunction:
	mkdir -p "$(ARTIFACTS_DIR)"
	cp --parents $(filter-out $(LAMBDA_EXCLUDES),$(shell find orchestrator -name '*.py')) "$(ARTIFACTS_DIR)"

build-RewardFunction:
	mkdir -p "$(ARTIFACTS_DIR)"
	cp --parents $$(find orchestrator -name '*.py') "$(ARTIFACTS_DIR)"

build-OrdersFunction build-ReturnsFunction build-SeedFunction build-CustomersFunction build-CancelOrderFunction:
	mkdir -p "$(ARTIFACTS_DIR)"
	cp --parents $$(find tools -name '*.py' -o -name '*.json' -o -name NOTICE) "$(ARTIFACTS_DIR)"

# The chat page's deploy function: webpage/ and, in web/, the page files it uploads (serve.py's page: html, css, js).
WEB_PAGE_FILES = $(wildcard orchestrator/web/*.html orchestrator/web/*.css orchestrator/web/*.js)
build-WebPageDeployFunction:
	mkdir -p "$(ARTIFACTS_DIR)/web"
	cp --parents $$(find webpage -name '*.py') "$(ARTIFACTS_DIR)"
	cp $(WEB_PAGE_FILES) "$(ARTIFACTS_DIR)/web/"
