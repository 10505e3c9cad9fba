#!/usr/bin/env bash
# The declared lower bounds, tested: a fresh venv with every dependency at the minimum that
# pyproject.toml declares (constraints-min.txt says which, and what this run proves), then the
# twin and environment tests. A failure here means a bound in pyproject.toml is not honest.
# gymnasium 0.29.1 is also CleanRL's pin: where a copy of CleanRL's ppo_continuous_action.py is on
# the machine (CLEANRL_SCRIPT, or the cleanrl repository's snapshot below), it runs here unmodified.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
venv="$tmp/venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q -c constraints-min.txt -e . pytest hypothesis
"$venv/bin/python" -m pip list 2>/dev/null | grep -iE "^(numpy|gymnasium|pettingzoo|stable.baselines3|torch|matplotlib|scipy) "
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/core tests/envs

snapshot=/work/.mirror/vwxyzjn+cleanrl/repo
if [ -z "${CLEANRL_SCRIPT:-}" ] && git -C "$snapshot" cat-file -e HEAD:cleanrl/ppo_continuous_action.py 2>/dev/null; then
  CLEANRL_SCRIPT="$tmp/ppo_continuous_action.py"
  git -C "$snapshot" show HEAD:cleanrl/ppo_continuous_action.py > "$CLEANRL_SCRIPT"
fi
if [ -n "${CLEANRL_SCRIPT:-}" ]; then
  "$venv/bin/python" -m pip install -q -c constraints-min.txt tyro tensorboard
  CLEANRL_SCRIPT="$CLEANRL_SCRIPT" "$venv/bin/python" -m pytest -q -p no:cacheprovider -m cleanrl tests/examples/test_cleanrl.py
else
  echo "CleanRL's script is not on this machine (set CLEANRL_SCRIPT): the cleanrl check did not run"
fi
rm -rf "$tmp"
