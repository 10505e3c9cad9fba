"""Episode KPIs: when the steps played already make an SLA violation certain; the utility and its excess term."""

import numpy as np

from twm_gym.core import Simulation
from twm_gym.core.candidates import candidate_library
from twm_gym.core.kpi import Utility, episode_kpis, violation_certain
from twm_gym.core.twin import simulate
from twm_gym.envs.reward import Reward
from twm_gym.scenarios import load_scenario


def test_violation_certain__is_never_wrong_and_fires_before_the_end() -> None:
    scenario = load_scenario("hotspot-ood")
    lib = candidate_library(scenario)
    rows = np.arange(0, len(lib), 8)  # 32 policies, cheap and dear, on shocks that break many of them
    sim = Simulation(scenario, rows + 5)
    ledgers = []
    for t in range(scenario.horizon):
        ledgers.append(sim.ledger.copy())
        sim.step(lib.p[rows, t], lib.b[rows, t])
    final = episode_kpis(scenario, sim.ledger, scenario.horizon)
    fired = np.zeros(len(rows), bool)
    for t, ledger in enumerate(ledgers):
        still = sim.ledger.offered - ledger.offered  # the exact traffic still to come: the tightest bound
        certain = violation_certain(scenario, ledger, t, still)
        assert final.global_violation[certain].all(), f"step {t}: a violation called certain did not happen"
        fired |= certain
    # It is a useful test, not only a safe one: most violations are known before the last step.
    assert fired.sum() >= 0.5 * final.global_violation.sum() > 0
    # With no bound on the traffic to come, only the latency test can be certain.
    loose = violation_certain(scenario, ledgers[6], 6, np.full_like(ledgers[6].offered, 1e12))
    assert final.global_violation[loose].all()


def test_utility__a_deeper_breach_scores_lower_up_to_twice_the_ceiling() -> None:
    u = Utility()
    excess = np.array([0.0, 0.25, 0.5, 1.0, 3.0], dtype=np.float32)
    violated = excess > 0
    scores = u.of(np.zeros(5), np.full(5, 0.2), violated, excess)
    assert np.allclose(scores, [0.1, -1.15, -1.4, -1.9, -1.9])
    assert np.all(np.diff(scores[:4]) < 0)
    v1 = Utility(w_excess=0.0).of(np.zeros(5), np.full(5, 0.2), violated, excess)
    assert np.allclose(v1, [0.1, -0.9, -0.9, -0.9, -0.9])  # the earlier utility: a breach is a breach


def test_utility__excess_is_the_worst_kpi_past_its_ceiling_and_scm_its_mirror() -> None:
    scenario = load_scenario("hotspot-id")
    lib = candidate_library(scenario)
    k = simulate(scenario, lib.p, lib.b, np.arange(len(lib)) % 8).kpis
    ratio = np.concatenate([k.loss / np.array(scenario.sla.loss_ceiling), (k.d99_ms / 20.0)[:, None]], axis=1)
    assert np.allclose(k.excess, np.maximum(ratio.max(axis=1) - 1, 0), atol=1e-5)
    assert np.array_equal(k.excess > 0, k.global_violation)
    assert np.all((k.scm == 0) | (k.excess == 0))
    assert k.global_violation.any() and (~k.global_violation).any()


def test_reward__a_deeper_breach_of_one_step_is_penalized_more() -> None:
    from twm_gym.core.kpi import StepKPIs

    def step(excess: float) -> StepKPIs:
        e = np.array([excess], dtype=np.float32)
        return StepKPIs(
            loss=np.zeros((1, 3), np.float32),
            d99_ms=np.zeros(1, np.float32),
            violation=np.zeros((1, 3), bool),
            global_violation=e > 0,
            scm=np.zeros(1, np.float32),
            cost=np.ones(1, np.float32),
            excess=e,
        )

    r = [float(Reward()(step(e))[0]) for e in (0.0, 0.5, 1.0, 2.0)]
    assert r == [-0.5, -2.0, -2.5, -2.5]
    assert float(Reward(excess_weight=0.0)(step(2.0))[0]) == -1.5
