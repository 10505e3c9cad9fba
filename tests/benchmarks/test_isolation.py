"""Strict mode: each agent in a process of its own. The same records as in-process for built-in agents;
nothing of the live episode reachable; faults, hangs and dead processes are error records."""

import pytest
import torch

from twm_bench.runner import run_unit

H = "tests.benchmarks.helper_agents:"


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the agent's process runs one thread, as the runner's workers do
    yield
    torch.set_num_threads(before)


def _fields(r):
    return (r.kpis, r.utility, r.sim_calls, r.prep_calls, r.error, r.reference)


@pytest.mark.parametrize("agent", ["uniform", "dt-fair", "oracle", "ppo", "llm"])
def test_strict__records_equal_the_in_process_ones(agent) -> None:
    default = run_unit(agent, "hotspot-id", [0, 1], 24, 0, "h")
    strict = run_unit(agent, "hotspot-id", [0, 1], 24, 0, "h", strict=True)
    assert [_fields(r) for r in strict] == [_fields(r) for r in default]
    assert all(r.error is None for r in strict)


def test_strict__the_live_episode_is_out_of_the_agents_reach() -> None:
    default = run_unit(H + "LooksForTheEpisode", "tiny", [0], 0, 0, "h")[0]
    strict = run_unit(H + "LooksForTheEpisode", "tiny", [0], 0, 0, "h", strict=True)[0]
    assert default.metrics["live_envs_found"] >= 1  # in-process, an object walk finds it
    assert strict.metrics["live_envs_found"] == 0


def test_strict__twin_calls_are_metered_by_the_harness() -> None:
    records = run_unit(H + "Greedy", "tiny", [0, 1], 12, 0, "h", strict=True)
    assert records[0].error is None
    assert records[1].error.startswith("BudgetExceededError: twin call needs 10000 simulator calls but only 12")
    forged = run_unit(H + "ForgesTheMeter", "tiny", [0], 4, 0, "h", strict=True)[0]
    assert forged.error.startswith("AttributeError")


def test_strict__faults_are_error_records_and_a_stopped_process_ends_the_unit() -> None:
    raised = run_unit(H + "RaisesInAct", "tiny", [0], 0, 0, "h", strict=True)[0]
    assert raised.error.startswith("RuntimeError: injected fault in act (agent " + H + "RaisesInAct, scenario tiny")
    hung = run_unit(H + "HangsInAct", "tiny", [0, 1], 0, 0, "h", strict=True, timeout_s=0.5)
    assert hung[0].error.startswith("EpisodeTimeout") and "step 1" in hung[0].error
    assert hung[1].error.startswith("AgentProcessError: the agent process was stopped when an earlier episode failed")
    exited = run_unit(H + "ExitsTheProcess", "tiny", [0, 1], 0, 0, "h", strict=True)
    assert [r.error.split(" (agent")[0] for r in exited] == [
        "AgentProcessError: the agent process exited (exit code 7)"
    ] * 2
