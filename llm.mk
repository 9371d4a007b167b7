# A local LLM for measuring the agent (a benchmark aid: never a runtime dependency, never in CI).
# Qwen2.5-Coder-Instruct GGUF Q4_K_M behind llama.cpp's OpenAI-compatible server on 127.0.0.1.
#   make llm                   # .venv-llm/ + llama-cpp-python (source build, ~13 min once), model, server
#   make llm LLM_SIZE=0.5b     # the 0.5B instead of the 1.5B
#   make eval-llm              # evals/heldout.jsonl through openai, fewshot, the blog's prompt, embedded
#   make llm-stop              # stop the server (pid file)
# Settings (LLM_SIZE, LLM_PORT, LLM_SAMPLE, LLM_RUNS, LLM_TIMEOUT_MIN, ...): scripts/llm.py's docstring.
LLM_PYTHON ?= python3
VENV ?= .venv
export LLM_SIZE LLM_PORT LLM_CTX LLM_THREADS LLM_CHAT_FORMAT LLM_VENV LLM_CACHE LLM_WAIT LLM_RUNS LLM_SAMPLE LLM_SEED LLM_TIMEOUT_MIN \
	LLM_EVAL_FILE LLM_RESULTS LLM_PROXY LLM_TAG

.PHONY: llm llm-stop llm-status eval-llm

llm:  ## serve Qwen2.5-Coder (1.5B, or LLM_SIZE=0.5b) on 127.0.0.1:8765 with llama.cpp
	@$(LLM_PYTHON) scripts/llm.py up

llm-stop:  ## stop the server that `make llm` started
	@$(LLM_PYTHON) scripts/llm.py stop

llm-status:
	@$(LLM_PYTHON) scripts/llm.py status

eval-llm: $(VENV)/.local  ## score the agent on evals/heldout.jsonl against the `make llm` server, into llm-results/
	@$(LLM_PYTHON) scripts/llm.py eval
