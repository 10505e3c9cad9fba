"""The twin's acceptance properties on 32 seeds per scenario (figures printed by the benchmark)."""

import pytest

from twin_properties import fast_timescale_figure, library_figures

SEEDS = 32
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def figures():
    return {n: library_figures(n, SEEDS) for n in ("hotspot-id", "hotspot-ood", "wave-id", "wave-ood")}


@pytest.mark.parametrize("family", ["hotspot", "wave"])
def test_ood_is_harder_than_id_under_uniform(figures, family: str) -> None:
    i, o = figures[f"{family}-id"], figures[f"{family}-ood"]
    assert o.uniform_scm < i.uniform_scm or o.uniform_p_g > i.uniform_p_g


@pytest.mark.parametrize("name", ["hotspot-id", "wave-id"])
def test_a_safe_and_cheaper_candidate_exists_in_id(figures, name: str) -> None:
    f = figures[name]
    assert f.safe_cheap is not None and f.safe_cheap_scm >= f.uniform_scm and f.safe_cheap_dcost >= 0.05


@pytest.mark.parametrize("name", ["hotspot-id", "hotspot-ood", "wave-id", "wave-ood"])
def test_cheap_and_unsafe_exists_and_hindsight_beats_uniform(figures, name: str) -> None:
    f = figures[name]
    assert f.cheap_unsafe is not None and f.cheap_unsafe_dcost >= 0.10 and f.cheap_unsafe_p_g >= 0.5
    assert f.hindsight_win_rate >= 0.8


def test_fast_timescale_fools_an_average_based_planner() -> None:
    rate, d99 = fast_timescale_figure(SEEDS)
    assert rate >= 0.5
    assert d99 > 20.0
