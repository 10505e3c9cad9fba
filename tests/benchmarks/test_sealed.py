"""Sealed runs: episodes drawn under a secret key that never reaches an agent's process.

Under the public key an agent that recovers its episode from its generator replays it and scores
like the hindsight oracle; under a sealed run's key the same agent cannot tell the episode, no
agent process holds the key, and the key kept with the results reproduces every record.
"""

import json
import os
import stat

import numpy as np
import pytest

from twm_bench.keys import KEY_FILE, PUBLIC, EvaluationKey, KeyFileError
from twm_bench.records import load
from twm_bench.runner import run, run_unit
from twm_bench.spec import RunSpec, SpecError

H = "tests.benchmarks.helper_agents:"


def _by_agent(path):
    return {(r.agent, r.seed): r for r in load(path)}


def test_public_key__a_seed_recovering_agent_scores_like_the_oracle() -> None:
    cheat = run_unit(H + "RecoversTheSeed", "tiny", [0, 1], 0, 0, "h")
    oracle = run_unit("oracle", "tiny", [0, 1], 0, 0, "h")
    assert [r.metrics["seed_recovered"] for r in cheat] == [1.0, 1.0]
    assert [r.utility for r in cheat] == [r.utility for r in oracle]  # what open runs do not protect against


def test_sealed_run__the_cheat_learns_nothing_and_no_agent_process_holds_the_key(tmp_path) -> None:
    spec = RunSpec(
        agents=(H + "RecoversTheSeed", H + "LooksForTheKey", "oracle"),
        scenarios=("tiny",),
        seeds=(0, 1),
        budget=0,
        sealed=True,
    )
    records = _by_agent(run(spec, tmp_path, quiet=True))
    key = EvaluationKey.load(tmp_path / KEY_FILE)
    assert {r.eval_key for r in records.values()} == {key.id} and key.id != "public"
    assert all(r.error is None for r in records.values())
    assert [records[H + "RecoversTheSeed", s].metrics["seed_recovered"] for s in (0, 1)] == [0.0, 0.0]
    assert [records[H + "LooksForTheKey", s].metrics["keys_found"] for s in (0, 1)] == [0.0, 0.0]
    assert stat.S_IMODE(os.stat(tmp_path / KEY_FILE).st_mode) == 0o600
    assert json.loads((tmp_path / "spec.json").read_text())["key"] == key.id


def test_sealed_run__the_key_file_reproduces_every_record_and_a_rerun_resumes(tmp_path) -> None:
    spec = RunSpec(agents=("oracle", "uniform"), scenarios=("hotspot-id",), seeds=(0, 1), budget=0, sealed=True)
    first = _by_agent(run(spec, tmp_path / "a", quiet=True))
    again = _by_agent(run(spec, tmp_path / "a", quiet=True))  # resumes: nothing to add
    assert len(load(tmp_path / "a" / "records.jsonl")) == 4 and again.keys() == first.keys()
    replay = _by_agent(run(spec, tmp_path / "b", quiet=True, key_file=tmp_path / "a" / KEY_FILE))
    assert {k: (r.kpis, r.utility) for k, r in replay.items()} == {k: (r.kpis, r.utility) for k, r in first.items()}
    other = _by_agent(run(spec, tmp_path / "c", quiet=True))  # a fresh key draws other episodes
    assert {k: r.kpis for k, r in other.items()} != {k: r.kpis for k, r in first.items()}


def test_keys__secret_mappings_differ_from_public_and_bad_keys_are_refused(tmp_path) -> None:
    a, b = EvaluationKey(bytes(32)), EvaluationKey(bytes([1]) * 32)
    seeds = {k.exo_seed("tiny", s) for k in (PUBLIC, a, b) for s in range(8)}
    assert len(seeds) == 24 and all(0 <= s < 2**62 for s in seeds)
    g1, g2 = a.agent_generator(0, "tiny", 3), a.agent_generator(0, "tiny", 3)
    assert np.array_equal(g1.random(4), g2.random(4))  # common to every agent of the episode
    assert PUBLIC.id == "public" and a.id != b.id and len(a.id) == 16
    (tmp_path / "short.key").write_text("abcd\n")
    with pytest.raises(KeyFileError, match=r"--key-file .*short\.key"):
        EvaluationKey.load(tmp_path / "short.key")
    with pytest.raises(SpecError, match="must run strict"):
        run_unit("uniform", "tiny", [0], 0, 0, "h", key=a)
    with pytest.raises(SpecError, match="only a sealed run takes a key"):
        run(RunSpec(agents=("uniform",), scenarios=("tiny",), seeds=(0,)), tmp_path, key_file=tmp_path / "x")
    with pytest.raises(SpecError, match="local backend only"):
        run(RunSpec(agents=("uniform",), scenarios=("tiny",), seeds=(0,), sealed=True), tmp_path, backend="ray")


def test_open_runs_keep_their_config_hash() -> None:
    spec = RunSpec(agents=("uniform",), scenarios=("tiny",), seeds=(0,))
    sealed = RunSpec(agents=("uniform",), scenarios=("tiny",), seeds=(0,), sealed=True)
    assert spec.config_hash() == sealed.config_hash()  # the key's id, not the flag, tells sealed records apart
    assert spec.config_hash("0123456789abcdef") != spec.config_hash()
