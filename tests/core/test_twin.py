"""The batched twin: one dynamics, determinism, common random numbers, snapshots, the meter."""

import dataclasses

import numpy as np
import pytest

import twm_gym.core.twin as twin_module
from twm_gym.core import BudgetExceededError, Simulation, Twin, simulate
from twm_gym.core.candidates import candidate_library
from twm_gym.scenarios import load_scenario


@pytest.fixture(scope="module")
def hotspot():
    return load_scenario("hotspot-ood")


def _policies(sc, idx):
    lib = candidate_library(sc)
    return lib.p[idx], lib.b[idx]


def test_twin__matches_env_step_by_step(hotspot) -> None:
    p, b = _policies(hotspot, [3, 77, 150])
    seeds = np.array([11, 12, 13])
    out = simulate(hotspot, p, b, seeds, record=True)
    sim = Simulation(hotspot, seeds)
    for t in range(hotspot.horizon):
        tr = sim.step(p[:, t], b[:, t])
        np.testing.assert_array_equal(tr.drivers.demand, out.trajectory.demand[:, t])
        np.testing.assert_array_equal(tr.csw.q_radio, out.trajectory.q_radio[:, t])
        np.testing.assert_array_equal(tr.result.urllc_delay, out.trajectory.urllc_delay[:, t])
        np.testing.assert_array_equal(tr.result.lost, out.trajectory.lost[:, t])
    k = sim.kpis()
    np.testing.assert_array_equal(k.scm, out.kpis.scm)
    np.testing.assert_array_equal(k.d99_ms, out.kpis.d99_ms)


def test_twin__bit_identical_across_runs_batch_sizes_and_compositions(hotspot, monkeypatch) -> None:
    lib = candidate_library(hotspot)
    alone = simulate(hotspot, lib.p[5], lib.b[5], [42])
    again = simulate(hotspot, lib.p[5], lib.b[5], [42])
    mixed = simulate(hotspot, lib.p[[9, 5, 5, 200]], lib.b[[9, 5, 5, 200]], [1, 42, 7, 42])
    monkeypatch.setattr(twin_module, "CHUNK_ROWS", 2)  # force the threaded chunked path
    chunked = simulate(hotspot, lib.p[[9, 5, 5, 200]], lib.b[[9, 5, 5, 200]], [1, 42, 7, 42])
    for out in (again, chunked):
        np.testing.assert_array_equal(out.kpis.scm, (alone if out is again else mixed).kpis.scm)
    for k in (mixed.kpis, chunked.kpis):
        np.testing.assert_array_equal(k.loss[1], alone.kpis.loss[0])
        np.testing.assert_array_equal(k.d99_ms[1], alone.kpis.d99_ms[0])
        np.testing.assert_array_equal(k.cost[1], alone.kpis.cost[0])


def test_twin__same_seed_same_exogenous_draws_whatever_the_policy(hotspot) -> None:
    p, b = _policies(hotspot, [0, 255])
    out = simulate(hotspot, p, b, [5, 5], record=True)
    traj = out.trajectory
    np.testing.assert_array_equal(traj.demand[0], traj.demand[1])
    np.testing.assert_array_equal(traj.capacity[0], traj.capacity[1])
    np.testing.assert_array_equal(traj.link_up[0], traj.link_up[1])
    assert not np.array_equal(traj.q_radio[0], traj.q_radio[1])


def test_twin__resumes_a_snapshot_exactly(hotspot) -> None:
    p, b = _policies(hotspot, [40])
    full = simulate(hotspot, p, b, [8])
    sim = Simulation(hotspot, [8])
    for t in range(5):
        sim.step(p[:, t], b[:, t])
    resumed = simulate(hotspot, p[0, 5:], b[0, 5:], [8], start=sim.snapshot(0))
    np.testing.assert_array_equal(resumed.kpis.scm, full.kpis.scm)
    np.testing.assert_array_equal(resumed.kpis.d99_ms, full.kpis.d99_ms)
    np.testing.assert_array_equal(resumed.kpis.cost, full.kpis.cost)


def test_twin__snapshot_rejects_wrong_remaining_length(hotspot) -> None:
    sim = Simulation(hotspot, [1])
    p, b = _policies(hotspot, [0])
    sim.step(p[:, 0], b[:, 0])
    with pytest.raises(ValueError, match=r"p has shape \(1, 12, 10, 3\); expected \(1, 11, 10, 3\)"):
        simulate(hotspot, p, b, [1], start=sim.snapshot(0))


def test_meter__counts_one_call_per_pair_and_refuses_past_budget(hotspot) -> None:
    twin = Twin(hotspot, budget=10)
    p, b = _policies(hotspot, np.arange(8))
    twin.rollout(p, b, np.arange(8))
    assert twin.calls_used == 8 and twin.remaining == 2
    p3, b3 = _policies(hotspot, [0, 1, 2])
    with pytest.raises(BudgetExceededError, match="needs 3 simulator calls but only 2 of the budget of 10 remain"):
        twin.rollout(p3, b3, [1, 2, 3])
    assert twin.calls_used == 8, "a refused call is not charged"
    twin.rollout(p3[:2], b3[:2], [1, 2])
    assert twin.remaining == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.nan, r"p\[rollout 0, step 2, cell 3, slice urllc\] is nan"),
        (np.inf, r"p\[rollout 0, step 2, cell 3, slice urllc\] is inf"),
        (-0.1, r"p\[rollout 0, step 2, cell 3, slice urllc\] is negative"),
    ],
)
def test_shares__bad_values_name_field_and_position(hotspot, value: float, message: str) -> None:
    p, b = _policies(hotspot, [0])
    p = p.copy()
    p[0, 2, 3, 1] = value
    with pytest.raises(ValueError, match=message):
        simulate(hotspot, p, b, [0])


def test_shares__wrong_shape_and_dtype_are_rejected(hotspot) -> None:
    p, b = _policies(hotspot, [0])
    with pytest.raises(ValueError, match=r"b has shape \(1, 12, 9, 3\); expected \(1, 12, 10, 3\)"):
        simulate(hotspot, p, b[:, :, :9], [0])
    with pytest.raises(ValueError, match="p must be numeric"):
        simulate(hotspot, np.full(p.shape, "x"), b, [0])


def test_shares__overfull_rows_are_projected_by_proportional_scaling(hotspot) -> None:
    p, b = _policies(hotspot, [0])
    doubled = simulate(hotspot, 2 * p, 3 * b, [4], record=True)
    plain = simulate(hotspot, p / p.sum(-1, keepdims=True), b / b.sum(-1, keepdims=True), [4])
    np.testing.assert_allclose(doubled.trajectory.p.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(doubled.kpis.scm, plain.kpis.scm, rtol=1e-5)


def test_twin__snapshot_state_is_not_shared_with_the_live_episode(hotspot) -> None:
    sim = Simulation(hotspot, [3])
    snap = sim.snapshot(0)
    p, b = _policies(hotspot, [0])
    sim.step(p[:, 0], b[:, 0])
    assert snap.t == 0 and np.all(snap.csw.q_radio == 0) and np.all(snap.ledger.offered == 0)
    assert dataclasses.replace(snap, t=0).batch == 1


def test_twin__a_batch_past_the_memory_bound_is_refused_before_anything_is_allocated(hotspot) -> None:
    p, b = _policies(hotspot, 0)  # one (H, ., S) policy, broadcast to the batch
    limit = twin_module.max_batch(hotspot)
    assert limit == twin_module.MAX_LATENCY_SAMPLES // (12 * 15 * 10)
    with pytest.raises(ValueError, match=rf"seeds: {limit + 1} rollouts in one call; at most {limit} of scenario"):
        simulate(hotspot, p, b, np.arange(limit + 1))
    meter = Twin(hotspot, budget=None)
    with pytest.raises(ValueError, match="split the batch"):
        meter.rollout(p, b, np.arange(limit + 1))
    assert meter.calls_used == 0
