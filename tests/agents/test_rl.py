"""Learned RL baselines: the train command, pickle-free checkpoints, harness agents, determinism."""

from __future__ import annotations

import dataclasses
import gc
import importlib.util
import json
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from twm_agents.checkpoint_io import CheckpointError
from twm_agents.registry import UnknownAgentError, make_agent
from twm_agents.rl.agent import DEFAULT_PPO, SB3Agent, policy_action
from twm_agents.rl.marl import DEFAULT_IPPO, AgentSlots, IPPOAgent
from twm_agents.rl.policy import load_policy, save_policy
from twm_agents.rl.spaces import UnitObservation, shares_of, wrap_for_learning
from twm_agents.rl.train import RLConfig, build_model, make_vec_env, observation_keys
from twm_bench.cli import main
from twm_bench.runner import run_unit
from twm_bench.spec import RunSpec, SpecError
from twm_gym.envs.layout import OBSERVATION_KEYS
from twm_gym.envs.parallel import SlicingParallelEnv


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny PPO, SAC and multi-agent checkpoints made by the CLI, as a user would."""
    root = tmp_path_factory.mktemp("rl")
    out = {}
    for kind, extra in (("ppo", []), ("sac", ["timesteps=128"]), ("ippo", [])):
        path = root / kind
        argv = ["train", kind, "--config", "tiny", "--out", str(path), "--quiet"]
        assert main(argv + (["--set", *extra] if extra else [])) == 0
        out[kind] = path
    return out


def test_train_writes_a_loadable_pickle_free_checkpoint_and_logs(trained: dict[str, Path]) -> None:
    for kind in ("ppo", "sac", "ippo"):
        path = trained[kind]
        meta = json.loads(path.with_suffix(".json").read_text())
        assert meta["format"] == "twm-sb3-policy/1" and meta["timesteps"] >= 128
        assert meta["config"]["algo"] == ("sac" if kind == "sac" else "ppo")
        _, loaded = load_policy(path)
        assert loaded["weights_sha256"] == meta["weights_sha256"]
        assert not list(path.parent.glob("*.zip")), "SB3's pickled zip must never be written"
        logs = path.parent / f"{kind}_logs"
        assert (logs / "progress.csv").is_file()
        if importlib.util.find_spec("tensorboard"):  # the dev extra: TensorBoard event files too
            assert list(logs.rglob("events.out.tfevents.*"))
    meta = json.loads(trained["ppo"].with_suffix(".json").read_text())
    assert meta["observation_keys"] == sorted(OBSERVATION_KEYS) and meta["action_size"] == 60  # Dict sorts keys


@pytest.mark.parametrize("kind", ["ppo", "ippo"])
def test_training_closes_its_log_files(kind: str, tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        assert main(["train", kind, "--config", "tiny", "--out", str(tmp_path / kind), "--quiet"]) == 0
        gc.collect()  # an unclosed file warns when its object is collected
    assert not [w for w in caught if issubclass(w.category, ResourceWarning) and "progress.csv" in str(w.message)]


def test_loaded_policy_acts_as_the_trained_model(tmp_path: Path) -> None:
    config = RLConfig.preset("tiny")
    model = build_model(config, make_vec_env(config))
    env = wrap_for_learning(gym.make("TWM/Slicing-WaveID-v0"))
    obs, _ = env.reset(seed=3)
    expected, _ = model.predict(obs, deterministic=True)
    save_policy(model, tmp_path / "p", config, observation_keys(config), {})
    policy, meta = load_policy(tmp_path / "p")
    with torch.inference_mode():
        got = policy_action(policy, meta["algo"], torch.as_tensor(obs)[None])[0]
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_tampered_or_foreign_checkpoints_are_refused(trained: dict[str, Path], tmp_path: Path) -> None:
    src = trained["ppo"]
    for suffix in (".safetensors", ".json"):
        (tmp_path / f"p{suffix}").write_bytes(src.with_suffix(suffix).read_bytes())
    weights = bytearray((tmp_path / "p.safetensors").read_bytes())
    weights[-1] ^= 0xFF
    (tmp_path / "p.safetensors").write_bytes(bytes(weights))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_policy(tmp_path / "p")
    with pytest.raises(CheckpointError, match="not a multi-agent checkpoint"):
        IPPOAgent(trained["ppo"])
    with pytest.raises(CheckpointError, match="does not exist"):
        SB3Agent(tmp_path / "missing")


def test_checkpoint_specs_resolve_and_missing_files_are_named(trained: dict[str, Path]) -> None:
    agent = make_agent(f"sb3:{trained['ppo']}")
    assert isinstance(agent, SB3Agent) and agent.checkpoint == trained["ppo"]
    assert isinstance(make_agent(f"ippo:{trained['ippo']}"), IPPOAgent)
    with pytest.raises(UnknownAgentError, match="do not exist"):
        make_agent("sb3:/no/such/policy")
    with pytest.raises(SpecError, match="do not exist"):
        RunSpec(agents=("sb3:/no/such/policy",))


@pytest.mark.parametrize("kind", ["ppo", "sac", "ippo"])
@pytest.mark.parametrize("deterministic", [True, False])
def test_learned_agents_in_the_harness_are_deterministic_given_the_seed(
    trained: dict[str, Path], kind: str, deterministic: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = f"{'ippo' if kind == 'ippo' else 'sb3'}:{trained[kind]}"
    if not deterministic:
        import twm_agents.registry

        original = twm_agents.registry.make_agent
        monkeypatch.setattr("twm_bench.runner.make_agent", lambda s: original(s, deterministic=False))

    def play(agent_seed: int) -> list[dict[str, float]]:
        records = run_unit(spec, "hotspot-id", [0, 1], 0, agent_seed, "h")
        assert all(r.error is None and r.sim_calls == 0 for r in records)
        return [r.kpis for r in records]

    first = play(0)
    assert play(0) == first
    if not deterministic:  # sampling uses the agent's generator: another seed, other actions
        assert play(1) != first


def test_agent_slots_split_like_the_pettingzoo_env() -> None:
    env = SlicingParallelEnv("wave-id")
    slots = AgentSlots(env)
    obs, _ = env.reset(seed=0)
    x = slots.observe(obs)
    n = len(env.possible_agents)
    assert x.shape == (n, n + slots.obs_width) and np.all((x >= 0) & (x <= 1))
    np.testing.assert_array_equal(x[:, :n], np.eye(n))
    raw = np.zeros((n, slots.act_width), np.float32)
    actions = slots.actions(raw)
    assert actions["cell_0"].shape == (3,) and actions["transport_0"].shape == (30,)
    assert all(np.allclose(a, 0.5) for a in actions.values())  # [-1, 1] -> [0, 1]


def test_spaces_map_bounds_onto_the_unit_interval() -> None:
    env = UnitObservation(gym.make("TWM/Slicing-v0"))
    obs, _ = env.reset(seed=1)
    assert env.observation_space.contains(obs)
    np.testing.assert_allclose(shares_of(np.array([-1.0, 0.0, 1.0, 3.0])), [0.0, 0.5, 1.0, 1.0])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("algo", "a2c", "RLConfig.algo"),
        ("envs", ("TWM/Nope-v0",), "not a registered env id"),
        ("n_envs", 0, "RLConfig.n_envs"),
        ("gamma", 1.5, "RLConfig.gamma"),
        ("device", "tpu", "RLConfig.device"),
    ],
)
def test_config_errors_name_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(RLConfig(), **{field: value})


def test_cli_train_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "ppo", "--config", "huge", "--out", str(tmp_path / "x")]) == 2
    assert "tiny" in capsys.readouterr().err
    assert main(["train", "sac", "--set", "width=wide", "--out", str(tmp_path / "x")]) == 2
    assert "RLConfig.width" in capsys.readouterr().err
    assert main(["train", "ippo", "--set", "envs=TWM/Field-v0", "--out", str(tmp_path / "x")]) == 2
    assert main(["train", "ppo", "--set", "envs=TWM/Field-v0", "--out", str(tmp_path / "x")]) == 2
    assert "not a Box of shares" in capsys.readouterr().err
    mixed = "envs=TWM/Slicing-v0,TWM/Slicing-Tiny-v0"
    assert main(["train", "ppo", "--set", mixed, "--out", str(tmp_path / "x")]) == 2
    assert "other spaces" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["ppo", "ippo"])
def test_shipped_policies_load_and_play(name: str) -> None:
    assert DEFAULT_PPO.with_suffix(".json").is_file() and DEFAULT_IPPO.with_suffix(".json").is_file()
    records = run_unit(name, "wave-id", [0], 0, 0, "h")
    assert records[0].error is None and np.isfinite(records[0].utility) and records[0].sim_calls == 0
