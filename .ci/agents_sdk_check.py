"""twm-gym beside the OpenAI Agents SDK, whose import package is named ``agents``.

Run by ``.ci/agents_sdk_check.sh`` in a fresh venv after each install order. Both must import
from their own files and work: the SDK builds an agent with a function tool; twm-gym's harness
scores one episode through its CLI and its packages are installed under their own names.
"""

import importlib.metadata
import sys
import tempfile
from pathlib import Path

import agents  # the SDK's package
from agents import Agent, function_tool

sdk_files = {str(f) for f in importlib.metadata.files("openai-agents") or []}
assert "agents/__init__.py" in sdk_files, "agents/__init__.py does not belong to openai-agents"
assert hasattr(agents, "Runner") and hasattr(agents, "Agent"), f"{agents.__file__} is not the SDK's agents package"


@function_tool
def cell_count() -> int:
    """How many cells the twin's default city has."""
    return 10


sdk_agent = Agent(name="noc", instructions="Answer questions about the network.", tools=[cell_count])
assert sdk_agent.tools[0].name == "cell_count"

import twm_agents  # noqa: E402
import twm_bench  # noqa: E402
import twm_gym  # noqa: E402
from twm_bench.cli import main  # noqa: E402

twm_files = {str(f) for f in importlib.metadata.files("twm-gym") or []}
assert not any(f.startswith("agents/") for f in twm_files), "twm-gym installs a top-level 'agents' package"
assert "twm_agents/__init__.py" in twm_files and "twm_bench/__init__.py" in twm_files
assert "twm_agents/rl/checkpoints/ppo.safetensors" in twm_files, "the shipped checkpoints are missing from the wheel"
with tempfile.TemporaryDirectory() as out:
    code = main(
        ["run", "--agents", "uniform", "ppo", "--scenarios", "hotspot-id", "--seeds", "1", "--out", out, "--quiet"]
    )
    assert code == 0, f"twm-bench run exited {code}"
    assert (Path(out) / "report.md").exists()
print(
    f"ok: SDK {importlib.metadata.version('openai-agents')} ({agents.__file__}) beside twm-gym ({twm_gym.__file__},"
    f" {twm_agents.__file__}, {twm_bench.__file__})"
)
sys.exit(0)
