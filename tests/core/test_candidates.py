"""The 256-candidate library: size, determinism, feasibility, structure."""

import numpy as np

from twm_gym.core.candidates import candidate_library
from twm_gym.core.kpi import step_cost
from twm_gym.scenarios import load_scenario


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
