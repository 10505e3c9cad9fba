#!/usr/bin/env bash
# twm-gym and the OpenAI Agents SDK (import package `agents`) in one fresh venv, in both install
# orders: the SDK first, then twm-gym (a regular wheel install); then the SDK reinstalled after
# twm-gym. .ci/agents_sdk_check.py checks after each that both import from their own files and work.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(mktemp -d)/venv
python3 -m venv "$venv"
py="$venv/bin/python"
"$py" -m pip install -q openai-agents
"$py" -m pip install -q -c constraints.txt .
(cd /tmp && "$py" "$OLDPWD/.ci/agents_sdk_check.py")
"$py" -m pip install -q --force-reinstall --no-deps openai-agents
(cd /tmp && "$py" "$OLDPWD/.ci/agents_sdk_check.py")
"$py" -m pip check
rm -rf "$(dirname "$venv")"
