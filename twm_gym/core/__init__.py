"""The simulator core: numpy only (never imports gymnasium, torch or pettingzoo)."""

from twm_gym.core.kpi import KPIs, Utility, violation_probabilities
from twm_gym.core.params import SLICES, ZONES, Scenario
from twm_gym.core.sim import Simulation, Transition
from twm_gym.core.state import Snapshot
from twm_gym.core.twin import BudgetExceededError, Rollout, Trajectory, Twin, simulate

__all__ = [
    "SLICES",
    "ZONES",
    "BudgetExceededError",
    "KPIs",
    "Rollout",
    "Scenario",
    "Simulation",
    "Snapshot",
    "Trajectory",
    "Transition",
    "Twin",
    "Utility",
    "simulate",
    "violation_probabilities",
]
