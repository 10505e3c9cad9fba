"""The agent protocol, the registry (names, module:Class, entry points) and the simple baselines."""

import sys
import textwrap
from typing import ClassVar

import numpy as np
import pytest

from twm_agents import make_agent, resolve
from twm_agents.base import AGENT_SEED_DOMAIN, Agent
from twm_agents.registry import UnknownAgentError, available
from twm_bench.runner import evaluation_exo_seed, run_episode
from twm_gym.core import Twin, simulate
from twm_gym.scenarios import load_scenario


def _twin(sc, budget=384):
    return Twin(load_scenario(sc.nominal), budget=budget, seed_domain=AGENT_SEED_DOMAIN)


@pytest.mark.parametrize("name", ["uniform", "proportional", "random"])
def test_baselines__play_a_full_episode_with_valid_kpis(name: str) -> None:
    sc = load_scenario("hotspot-id")
    res = run_episode(make_agent(name), sc, seed=0, twin=_twin(sc), rng=np.random.default_rng(0))
    assert res.error is None and res.sim_calls == 0
    assert 0.0 <= res.kpis["scm"] <= 1.0 and res.utility is not None


def test_uniform__reproduces_the_twin_under_the_evaluation_seed() -> None:
    sc = load_scenario("wave-id")
    res = run_episode(make_agent("uniform"), sc, seed=3, twin=_twin(sc), rng=np.random.default_rng(0))
    third = np.full((1, 12, 10, 3), 1 / 3, dtype=np.float32)
    ref = simulate(sc, third, third, [evaluation_exo_seed(sc, 3)])
    assert res.kpis == ref.kpis.row(0)


def test_proportional__splits_by_observed_demand() -> None:
    sc = load_scenario("hotspot-id")
    agent = make_agent("proportional")
    from twm_agents.base import EpisodeContext, ScenarioCard

    agent.reset(EpisodeContext(ScenarioCard.of(sc), _twin(sc), np.random.default_rng(0), snapshot=lambda: None))
    demand = np.zeros(30, dtype=np.float32)
    demand[0:3] = (3.0, 1.0, 0.0)  # cell 0: 75 % eMBB, 25 % URLLC
    action = agent.act({"egw_demand": demand})
    p, b = ScenarioCard.of(sc).layout.unpack(action)
    np.testing.assert_allclose(p[0], (0.75, 0.25, 0.0), rtol=1e-6)
    np.testing.assert_allclose(p[5], 1 / 3)  # no load: even split
    np.testing.assert_allclose(b.sum(axis=1), 1.0, rtol=1e-6)


class _Cheater(Agent):
    """Tries its twin with every seed it could know: the evaluation index and the true exo seed."""

    name = "cheater"
    guesses: ClassVar[list[int]] = []
    seen: ClassVar[list[np.ndarray]] = []

    def reset(self, context) -> None:
        super().reset(context)
        third = np.full((len(self.guesses), 12, 10, 3), 1 / 3, dtype=np.float32)
        out = context.twin.rollout(third, third, self.guesses, record=True)
        type(self).seen = [out.trajectory.demand[i] for i in range(len(self.guesses))]

    def act(self, observation):
        return np.full(self.ctx.card.layout.action_size, 1 / 3, dtype=np.float32)


def test_context__no_seed_an_agent_passes_replays_the_evaluation_episode() -> None:
    sc = load_scenario("hotspot-id")  # ID: the nominal model *is* the true one, the hardest case
    true_seed = evaluation_exo_seed(sc, 5)
    _Cheater.guesses = [5, true_seed]
    res = run_episode(_Cheater(), sc, seed=5, twin=_twin(sc), rng=np.random.default_rng(0))
    assert res.sim_calls == 2
    third = np.full((1, 12, 10, 3), 1 / 3, dtype=np.float32)
    truth = simulate(sc, third, third, [true_seed], record=True).trajectory.demand[0]
    for guess in _Cheater.seen:
        assert not np.allclose(guess, truth, rtol=1e-3)  # different exogenous draws
    assert res.kpis["scm"] == simulate(sc, third, third, [true_seed]).kpis.row(0)["scm"]


def test_budget__an_agent_past_its_budget_gets_the_error_recorded() -> None:
    sc = load_scenario("tiny")
    _Cheater.guesses = list(range(5))
    res = run_episode(_Cheater(), sc, seed=0, twin=_twin(sc, budget=3), rng=np.random.default_rng(0))
    assert res.error is not None and "5 simulator calls but only 3" in res.error
    assert res.kpis == {} and res.sim_calls == 0


@pytest.mark.parametrize(("budget", "calls"), [(384, 384), (12, 12), (0, 0)])
def test_dt_fair__searches_within_whatever_budget_it_has(budget: int, calls: int) -> None:
    sc = load_scenario("tiny")
    res = run_episode(make_agent("dt-fair"), sc, seed=0, twin=_twin(sc, budget=budget), rng=np.random.default_rng(0))
    assert res.error is None and res.sim_calls == calls  # its search runs at its first reset here


def test_registry__names_paths_errors_and_entry_point_plugins(tmp_path, monkeypatch) -> None:
    assert {"uniform", "proportional", "random"} <= set(available())
    assert resolve("twm_agents.baselines.simple:Uniform") is resolve("uniform")
    with pytest.raises(UnknownAgentError, match=r"unknown agent 'unifrom'; valid names: \[.*'uniform'"):
        resolve("unifrom")
    with pytest.raises(UnknownAgentError, match="has no attribute 'Nope'"):
        resolve("twm_agents.baselines.simple:Nope")
    with pytest.raises(UnknownAgentError, match="not a subclass"):
        resolve("numpy:ndarray")
    with pytest.raises(TypeError, match="takes no options"):
        make_agent("uniform", temperature=1)
    # A separately installed package: a module and a dist-info with an entry point on sys.path.
    (tmp_path / "twm_plugin_demo.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            from twm_agents.base import Agent

            class Greedy(Agent):
                name = "greedy-demo"

                def act(self, observation):
                    return np.full(self.ctx.card.layout.action_size, 0.2, dtype=np.float32)
            """
        )
    )
    dist = tmp_path / "twm_plugin_demo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: twm-plugin-demo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[twm_gym.agents]\ngreedy-demo = twm_plugin_demo:Greedy\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert available()["greedy-demo"] == "twm_plugin_demo:Greedy"
    agent = make_agent("greedy-demo")
    sc = load_scenario("tiny")
    res = run_episode(agent, sc, seed=0, twin=_twin(sc), rng=np.random.default_rng(0))
    # Shares 0.2 everywhere: 0.6 of every resource, plus the switch from 1/3 at the first of 4 steps.
    assert res.error is None and res.kpis["cost"] == pytest.approx(0.6 + 0.5 * 0.4 / 4, rel=1e-5)
    sys.modules.pop("twm_plugin_demo", None)
