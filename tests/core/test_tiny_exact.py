"""Known answers on the tiny 2-cell city (no noise, no shocks)."""

import dataclasses

import numpy as np
import pytest

from twm_gym.core import Simulation, simulate
from twm_gym.core.transport import RoutingTable
from twm_gym.scenarios import load_scenario


@pytest.fixture(scope="module")
def tiny():
    return load_scenario("tiny")


def _uniform(sc):
    t, c, n_links = sc.horizon, len(sc.city.cell_xy), len(sc.transport.links)
    return np.full((t, c, 3), 1 / 3, dtype=np.float32), np.full((t, n_links, 3), 1 / 3, dtype=np.float32)


def _with_failed(sc, links):
    snap = Simulation(sc, [0]).snapshot(0)
    down = snap.egw.down_left.copy()
    down[0, links] = 10 * sc.horizon  # stays down for the whole episode
    return dataclasses.replace(snap, egw=dataclasses.replace(snap.egw, down_left=down))


def test_tiny__loss_of_an_underprovisioned_slice_matches_the_fluid_formula(tiny) -> None:
    p, b = _uniform(tiny)
    traj = simulate(tiny, p, b, [0], record=True).trajectory
    lam, cap = traj.demand[0, 0, :, 0], traj.capacity[0, 0]  # eMBB demand and cell capacity, Mbps
    p = p.copy()
    p[:, :, 0] = 0.5 * lam / cap  # serve exactly half of the eMBB arrivals
    out = simulate(tiny, p, b, [0])
    n_sub = tiny.horizon * tiny.sim.substeps
    a = lam * tiny.sim.slow_step_s / tiny.sim.substeps  # Mbit per sub-step per cell
    buf = tiny.sim.radio_buffer_mbit[0]
    expected = ((n_sub * 0.5 * a - buf) / (n_sub * a)).mean()  # equal demand in both cells
    np.testing.assert_allclose(out.kpis.loss[0, 0], expected, rtol=1e-5)
    assert out.kpis.violation[0, 0] and out.kpis.scm[0] == 0.0


def test_tiny__idle_urllc_latency_is_radio_plus_one_hop(tiny) -> None:
    p, b = _uniform(tiny)
    k = simulate(tiny, p, b, [0]).kpis
    sim = tiny.sim
    assert k.d99_ms[0] == pytest.approx(sim.radio_latency_ms + tiny.transport.hop_latency_ms)
    assert k.loss[0].max() == 0.0 and k.scm[0] > 0.8


def test_tiny__failed_spoke_reroutes_through_the_neighbour(tiny) -> None:
    table = RoutingTable(tiny.transport)
    assert table.path("N1", np.array([True, True, True])) == [0]
    assert table.path("N1", np.array([False, True, True])) == [1, 2]  # N1 -> N2 -> N0
    p, b = _uniform(tiny)
    k = simulate(tiny, p, b, [0], start=_with_failed(tiny, [0])).kpis
    assert k.unroutable_mbit.sum() == 0.0 and k.loss.max() == 0.0
    # Cell 0 now crosses two links: radio + 2 hops on half the samples.
    assert k.d99_ms[0] == pytest.approx(tiny.sim.radio_latency_ms + 2 * tiny.transport.hop_latency_ms)


def test_tiny__traffic_with_no_surviving_path_is_lost_and_counted(tiny) -> None:
    assert RoutingTable(tiny.transport).path("N2", np.array([True, False, True])) is None
    p, b = _uniform(tiny)
    full = simulate(tiny, p, b, [0], record=True)
    cut = simulate(tiny, p, b, [0], start=_with_failed(tiny, [1]), record=True)
    lost_cell1 = full.trajectory.demand[0, :, 1].sum(axis=0) * tiny.sim.slow_step_s  # Mbit per slice
    np.testing.assert_allclose(cut.kpis.unroutable_mbit[0], lost_cell1, rtol=1e-5)
    np.testing.assert_allclose(cut.kpis.lost_mbit[0], lost_cell1, rtol=1e-5)
    assert cut.kpis.d99_ms[0] == tiny.sim.latency_cap_ms and cut.kpis.global_violation[0]


def test_tiny__cost_of_uniform_is_one_and_a_cheaper_policy_saves(tiny) -> None:
    p, b = _uniform(tiny)
    out = simulate(tiny, np.stack([p, 0.8 * p]), np.stack([b, 0.8 * b]), [0, 0])
    np.testing.assert_allclose(out.kpis.cost, [1.0, 0.8 + 0.5 * 0.2 / tiny.horizon], rtol=1e-6)
    np.testing.assert_allclose(out.kpis.delta_cost[1], 1.0 - out.kpis.cost[1], rtol=1e-6)
