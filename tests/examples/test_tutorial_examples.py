"""The tutorial's plug-in agent and the how-to's scenario family run as the docs say."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from twm_agents import make_agent
from twm_agents.base import AGENT_SEED_DOMAIN, ScenarioCard
from twm_bench.runner import run_episode
from twm_gym.core import Twin
from twm_gym.scenarios import load_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_urllc_headroom_agent_plugs_in_by_module_path_and_plays_any_city(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    for name in ("hotspot-ood", "test-cities/city-grid-two-tier-10-s100-wave-id"):
        sc = load_scenario(name)
        twin = Twin(ScenarioCard.of(sc).nominal, budget=12, seed_domain=AGENT_SEED_DOMAIN)
        agent = make_agent("urllc_headroom:URLLCHeadroom")
        res = run_episode(agent, sc, seed=0, twin=twin, rng=np.random.default_rng(0))
        assert res.error is None and res.sim_calls == 0 and res.utility is not None
    with pytest.raises(ValueError, match="headroom must be > 0"):
        make_agent("urllc_headroom:URLLCHeadroom", headroom=0)


def test_stadium_family_writes_id_and_ood_files_that_load(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(EXAMPLES / "stadium_family.py"), str(tmp_path)], check=True, capture_output=True
    )
    files = sorted(tmp_path.glob("*.json"))
    assert len(files) == 6
    for path in files:
        sc = load_scenario(str(path))
        assert sc.family == "stadium" and sc.ood == path.stem.endswith("-ood")
        assert ScenarioCard.of(sc).nominal.name.endswith("-stadium-id")  # an OOD file's twin is its ID sibling


def test_a_plug_in_fwm_is_scored_on_the_leaderboards_axes(monkeypatch: pytest.MonkeyPatch) -> None:
    from twm_bench import leaderboard

    monkeypatch.syspath_prepend(str(EXAMPLES))
    proto = leaderboard.Protocol("test", 1, 1, 1, (0,), 2, 1, 1, 1, splits=("paper",))
    shipped = leaderboard._axes("fwm", "sets", proto)["splits"]["paper"]
    wider = leaderboard._axes("fwm", "wider_intervals:load", proto)["splits"]["paper"]
    assert wider["r2"] == pytest.approx(shipped["r2"])  # the same means
    assert wider["picp"] > shipped["picp"]  # wider intervals cover more
