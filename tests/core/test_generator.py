"""The city and shock generator and the held-out splits: deterministic, in range, loadable, and the
shipped split files exactly what the generator writes."""

import json

import numpy as np
import pytest

from twm_gym.core.compiled import compile_scenario
from twm_gym.scenarios import load_scenario, scenario_from_dict
from twm_gym.scenarios.generator import FAMILIES, LAYOUTS, TRANSPORTS, GeneratorError, generate, generate_city
from twm_gym.scenarios.splits import SPLITS, split_scenarios, write_splits


def test_the_generator_is_deterministic_by_seed_and_differs_across_seeds() -> None:
    a = generate(3, 20, "clustered", "two-tier", FAMILIES)
    assert json.dumps(a) == json.dumps(generate(3, 20, "clustered", "two-tier", FAMILIES))
    assert generate_city(4, 20, "clustered", "two-tier")["city"] != a[0]["city"]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("cells", [5, 37])
def test_every_layout_and_transport_gives_loadable_cities_of_the_asked_size(cells, layout, transport) -> None:
    for data in generate(1, cells, layout, transport, FAMILIES):
        sc = scenario_from_dict(data)
        comp = compile_scenario(sc)
        assert sc.n_cells == cells and 1 <= sc.n_links <= 16
        assert (comp.field.member.sum(axis=1) > 0).all()  # every cell serves some pixel
        assert comp.zones.any(axis=1).all()  # hospital, FWA and corridor each hold a cell
    ood = scenario_from_dict(generate(1, cells, layout, transport, ("hotspot",))[1])
    idd = scenario_from_dict(generate(1, cells, layout, transport, ("hotspot",))[0])
    assert ood.hotspot.intensity > idd.hotspot.intensity and ood.failures.prob > idd.failures.prob


def test_the_cell_hotspot_family_surges_a_site_in_no_zone_and_outage_schedules_link_events() -> None:
    files = {d["family"]: d for d in generate(2, 30, "random", "hub-and-spoke", FAMILIES) if not d["ood"]}
    sc = scenario_from_dict(files["cell-hotspot"])
    cell = int(sc.hotspot.at.split(":")[1])
    assert not compile_scenario(sc).zones[:, cell].any()
    outage = scenario_from_dict(files["outage"])
    assert [e.capacity_factor for e in outage.failures.scheduled] == [0.0, 0.6]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cells": 4}, r"cells: 4 is outside \[5, 200\]"),
        ({"cells": 10, "layout": "spiral"}, r"layout: 'spiral' is not one of \['grid', 'random', 'clustered'\]"),
        ({"cells": 10, "transport": "mesh"}, "transport: 'mesh' is not one of"),
    ],
)
def test_bad_generator_arguments_are_named(kwargs, message) -> None:
    with pytest.raises(GeneratorError, match=message):
        generate_city(0, **kwargs)


def test_the_shipped_split_files_are_the_generators_output(tmp_path) -> None:
    from importlib import resources

    write_splits(tmp_path)
    shipped = resources.files("twm_gym.scenarios.data")
    for split in SPLITS:
        made = sorted(p.name for p in (tmp_path / split).iterdir())
        assert made == sorted(p.name for p in shipped.joinpath(split).iterdir() if p.name.endswith(".json"))
        for name in made:
            assert (tmp_path / split / name).read_text() == shipped.joinpath(split, name).read_text(), name


def test_splits_are_disjoint_and_the_paper_scenarios_are_test_only() -> None:
    train = set(split_scenarios("train"))
    assert len(train) == 24 and set(split_scenarios("test-seeds")) == train
    assert not train & set(split_scenarios("test-families")) and not train & set(split_scenarios("test-cities"))
    assert not {s.split("/")[1].rsplit("-", 2)[0] for s in train} & {
        s.split("/")[1].rsplit("-", 2)[0] for s in split_scenarios("test-cities")
    }
    assert split_scenarios("paper") == ("hotspot-id", "hotspot-ood", "wave-id", "wave-ood")
    big = load_scenario(max(split_scenarios("test-cities"), key=lambda s: load_scenario(s).n_cells))
    assert big.n_cells == 200 and np.isfinite(compile_scenario(big).nominal_capacity).all()


def test_a_large_city_rolls_out_the_same_bits_whatever_its_batch() -> None:
    from twm_gym.core.candidates import candidate_library
    from twm_gym.core.field import GATHER_CELLS
    from twm_gym.core.twin import simulate

    sc = scenario_from_dict(generate(0, 2 * GATHER_CELLS, "random", "hub-and-spoke", ("hotspot",))[0])
    assert compile_scenario(sc).field.slots is not None  # the per-cell gather path
    lib = candidate_library(sc)
    rows = np.array([3, 40, 77, 200])
    together = simulate(sc, lib.p[rows], lib.b[rows], rows + 5)
    for i, r in enumerate(rows):
        alone = simulate(sc, lib.p[r : r + 1], lib.b[r : r + 1], [r + 5])
        assert alone.kpis.row(0) == together.kpis.row(i)
        assert np.isfinite(alone.utility).all()
