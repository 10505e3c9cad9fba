"""Episode KPIs: when the steps played already make an SLA violation certain."""

import numpy as np

from twm_gym.core import Simulation
from twm_gym.core.candidates import candidate_library
from twm_gym.core.kpi import episode_kpis, violation_certain
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
