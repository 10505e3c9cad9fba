"""The 256-candidate library: size, determinism, feasibility, structure."""

import numpy as np
import pytest

from twm_gym.core.candidates import GUARD_SHARE, LEAN_SCALE, LIBRARY_SIZE, candidate_library, city_groups
from twm_gym.core.compiled import compile_scenario
from twm_gym.core.kpi import step_cost
from twm_gym.scenarios import load_scenario
from twm_gym.scenarios.generator import generate
from twm_gym.scenarios.registry import scenario_from_dict
from twm_gym.scenarios.splits import split_scenarios

TRAIN0 = split_scenarios("train")[0]


def test_library__256_unique_feasible_policies_with_uniform_first() -> None:
    lib = candidate_library(load_scenario("wave-id"))
    assert len(lib) == 256 and len(set(lib.names)) == 256
    assert lib.p.shape == (256, 12, 10, 3) and lib.b.shape == (256, 12, 10, 3)
    assert lib.p.min() >= 0 and lib.p.sum(-1).max() <= 1 + 1e-6 and lib.b.sum(-1).max() <= 1 + 1e-6
    np.testing.assert_allclose(lib.p[0], 1 / 3, rtol=1e-6)
    assert lib.index("uniform/uniform/constant/1.00") == 0
    assert not lib.p.flags.writeable


def test_library__deterministic_across_calls_and_same_city() -> None:
    a = candidate_library(load_scenario("hotspot-id"))
    candidate_library.cache_clear()
    b = candidate_library(load_scenario("hotspot-ood"))  # same city, other shocks
    np.testing.assert_array_equal(a.p, b.p)
    np.testing.assert_array_equal(a.b, b.b)


def test_library__scaled_variants_are_cheaper_and_busy_hour_varies_in_time() -> None:
    sc = load_scenario("hotspot-id")
    lib = candidate_library(sc)
    full = lib.index("headroom/proportional/constant/1.00")
    cheap = lib.index("headroom/proportional/constant/0.70")
    cost = [
        float(step_cost(sc.cost, lib.p[i, 1:2], lib.b[i, 1:2], lib.p[i, 0:1], lib.b[i, 0:1])[0]) for i in (full, cheap)
    ]
    assert cost[1] < 0.75 * cost[0]
    busy = lib.p[lib.index("headroom/proportional/busy-hour/1.00")].sum(axis=(1, 2))
    assert busy.argmax() in (5, 6) and busy[0] < busy[5]


def test_library__zone_templates_favour_their_zone() -> None:
    lib = candidate_library(load_scenario("hotspot-id"))
    hosp = lib.p[lib.index("hospital-first/uniform/constant/1.00"), 0]
    assert hosp[0, 1] == np.float32(0.5) and hosp[6, 1] < 0.2  # cell 0 hospital, cell 6 no zone


SMALLEST = generate(seed=1, cells=5, transport="two-tier")[0]  # two serving nodes: eight focus levels


@pytest.mark.parametrize(
    "name", ["hotspot-id", "test-cities/city-random-two-tier-200-s103-wave-ood", TRAIN0, "5 cells"]
)
def test_library__every_cell_and_link_is_protected_and_deprioritized_by_some_plan(name: str) -> None:
    sc = scenario_from_dict(SMALLEST) if name == "5 cells" else load_scenario(name)
    lib, groups = candidate_library(sc), city_groups(compile_scenario(sc))
    assert len(lib) == LIBRARY_SIZE == 256 and len(set(lib.names)) == 256
    cells = np.array([g.cells for g in groups])
    links = np.array([g.links for g in groups])
    assert (cells.sum(axis=0) == 1).all() and (links.sum(axis=0) == 1).all()  # groups partition both
    assert lib.p.sum(-1).max() <= 1 + 1e-6 and lib.b.sum(-1).max() <= 1 + 1e-6 and lib.p.min() >= 0
    p, b = lib.p[:, 0], lib.b[:, 0]  # (N, C, S), (N, L, S): focus plans are constant in time
    for shares in (p, b):
        total = shares.sum(axis=-1)  # (N, C) or (N, L): provision of each cell / link
        for i in range(shares.shape[1]):
            others = np.delete(total, i, axis=1).mean(axis=1)
            for s in range(3):  # protected: fully provisioned, the slice guarded, the rest of the city leaner
                assert ((shares[:, i, s] >= GUARD_SHARE - 1e-6) & (total[:, i] > others + 0.05)).any(), (i, s)
            assert (total[:, i] < others - 0.05).any(), i  # de-prioritized


def test_library__focus_plans_name_their_group_and_mode() -> None:
    sc = load_scenario("hotspot-id")
    lib, groups = candidate_library(sc), city_groups(compile_scenario(sc))
    assert [g.name for g in groups] == ["N1", "N2", "N3", "N4", "N5"]  # the paper city: one node, two cells each
    i = lib.index("guard-urllc@N3/focus@N3/constant/0.87")  # levels 1.00, 0.87, 0.73, 0.60 for 5 groups
    g = groups[2]
    assert np.all(lib.p[i, :, g.cells, 1] >= GUARD_SHARE - 1e-6)
    np.testing.assert_allclose(lib.p[i, :, ~g.cells].sum(-1), 1.0 - 0.4 / 3, rtol=1e-5)
    lean = lib.index("lean@N3/focus@N3/constant/1.00")
    np.testing.assert_allclose(lib.p[lean, :, g.cells].sum(-1), LEAN_SCALE, rtol=1e-5)
    np.testing.assert_allclose(lib.b[lean, :, g.links].sum(-1), LEAN_SCALE, rtol=1e-5)
