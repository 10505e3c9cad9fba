"""The any-city FWM (``cells="sets"``): one network for cities of any size and grid."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from twm_agents.fwm.data import generate
from twm_agents.fwm.fields import FEATURES, GEOMETRY_CHANNELS, channels, exo_channels, field_geometry
from twm_agents.fwm.predictor import FieldModel
from twm_agents.fwm.scorer import FieldScorer, spatial_risk
from twm_agents.fwm.train import FWMConfig, train
from twm_bench.cli import main
from twm_gym.core.candidates import candidate_library
from twm_gym.core.egw import initial_egw, roll
from twm_gym.core.field import sinr
from twm_gym.core.rng import domain_seeds, seed_keys
from twm_gym.scenarios import load_scenario

# Two training cities of different size and grid (8 cells on 16x16, 24 cells on 17x17: not a multiple of 4).
TRAIN = ("train/city-random-hub-and-spoke-8-s0-hotspot-id", "train/city-random-ring-24-s3-wave-id")
UNSEEN = "test-cities/city-grid-two-tier-10-s100-hotspot-id"
TINY = FWMConfig.preset("tiny").replace({"cells": "sets", "ood_seeds": "0", "epochs": "8"})
TINY = FWMConfig(**{**TINY.__dict__, "scenarios": TRAIN, "ood_scenarios": ()})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[FieldModel, Path]:
    out = tmp_path_factory.mktemp("fwm-sets") / "tiny"
    return train(TINY, out, progress=None), out


def test_geometry_channels_are_the_city_s_radio_geometry() -> None:
    """SNR and full-load SIR (dB / 10) give the twin's SINR with every cell active: 1/SINR = 1/SNR + 1/SIR."""
    sc = load_scenario(TRAIN[1])
    geom = field_geometry(sc)
    snr, sir = (10.0 ** geom.geometry[i].astype(np.float64) for i in range(len(GEOMETRY_CHANNELS)))
    full = sinr(geom.comp.field, np.ones((1, geom.n_cells), np.float32))[0].astype(np.float64)
    np.testing.assert_allclose(1.0 / full, 1.0 / snr + 1.0 / sir, rtol=1e-4)
    assert channels("sets") == channels("fixed")[:5] + GEOMETRY_CHANNELS + channels("fixed")[5:]
    with pytest.raises(ValueError, match="cells"):
        channels("graph")


def test_one_model_reads_cities_it_never_saw(tiny: tuple[FieldModel, Path]) -> None:
    model, _ = tiny
    assert model.shape.any_city and model.meta["geometry"] is None
    for name in (*TRAIN, UNSEEN, "hotspot-id"):
        sc = load_scenario(name)
        data = generate(name, range(900, 902), rng_seed=1, cells="sets")
        geom = field_geometry(sc)
        pred = model.predict(data.x, city=geom)
        assert pred.mean.shape == (24, geom.n_cells, len(FEATURES)) and pred.sinr_map is not None
        assert pred.sinr_map.shape == (24, geom.grid, geom.grid)
        assert np.isfinite(pred.mean).all() and (pred.lo <= pred.hi).all()
    # beats the training mean on the unseen city (standardized per feature)
    data = generate(UNSEEN, range(900, 904), rng_seed=1, cells="sets")
    pred = model.predict(data.x, city=field_geometry(load_scenario(UNSEEN)), with_field=False)
    scale = data.y.reshape(-1, len(FEATURES)).std(axis=0) + 1e-6
    train_mean = model.ensemble.y_mean.cpu().numpy()
    assert np.mean(((pred.mean - data.y) / scale) ** 2) < 0.7 * np.mean(((train_mean - data.y) / scale) ** 2)


def test_city_is_required_and_checked(tiny: tuple[FieldModel, Path]) -> None:
    model, _ = tiny
    data = generate(UNSEEN, range(2), rng_seed=1, cells="sets")
    with pytest.raises(ValueError, match="city"):
        model.predict(data.x)
    with pytest.raises(ValueError, match="grid"):
        model.predict(data.x, city=field_geometry(load_scenario(TRAIN[1])))  # a 17x17 city for 16x16 inputs
    with pytest.raises(ValueError, match="38"):
        model.predict(generate(UNSEEN, range(1), rng_seed=1).x, city=field_geometry(load_scenario(UNSEEN)))


def test_round_trip_and_shared_paths_agree(tiny: tuple[FieldModel, Path]) -> None:
    model, out = tiny
    sc = load_scenario(UNSEEN)
    again = FieldModel.load(out, scenario=sc)  # no city check: it reads any city
    geom, lib = field_geometry(sc), candidate_library(sc)
    path = roll(geom.comp, initial_egw(geom.comp, 1), seed_keys(domain_seeds(np.array([3]), 99)), 0, 6)
    state, t = path.state(4), 5
    scorer = FieldScorer(again, sc)
    scores = scorer.score(state, t, lib.p[:40, t], lib.b[:40, t])
    x = scorer.channels(state, t, lib.p[:40, t], lib.b[:40, t])
    full = model.predict(x, city=geom, with_field=False)
    np.testing.assert_allclose(scores.prediction.mean, full.mean, rtol=1e-4, atol=1e-4)
    from twm_agents.fwm.fields import config_cells
    from twm_gym.core.egw import drivers_of

    drv = drivers_of(geom.comp, state, t)
    cells = config_cells(geom, drv, lib.p[:40, t], lib.b[:40, t])[None]  # (1 field, 40, Cc, C)
    steps = model.predict_steps(exo_channels(geom, drv, geometry=True), cells, city=geom)
    np.testing.assert_allclose(steps[0], full.mean, rtol=1e-4, atol=1e-4)


def test_shipped_any_city_checkpoint_ranks_on_an_unseen_city() -> None:
    """The shipped ``sets`` FWM orders library candidates by the analytic spatial risk on a test city."""
    from twm_agents.fwm.fields import field_features
    from twm_gym.core.egw import drivers_of

    sc = load_scenario("test-cities/city-random-ring-40-s101-hotspot-id")
    model = FieldModel.named("sets")
    geom, lib = field_geometry(sc), candidate_library(sc)
    path = roll(geom.comp, initial_egw(geom.comp, 1), seed_keys(domain_seeds(np.array([7]), 99)), 0, 6)
    state, t = path.state(4), 5
    scores = FieldScorer(model, sc).score(state, t, lib.p[:, t], lib.b[:, t])
    truth = spatial_risk(field_features(geom, drivers_of(geom.comp, state, t), lib.p[:, t], lib.b[:, t]))
    assert spearmanr(scores.risk_mean, truth).statistic > 0.9


def test_cli_field_axis_on_a_split(
    tiny: tuple[FieldModel, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = tiny
    args = ["axis", "field", "--checkpoint", str(out), "--seeds", "1", "--splits", "test-cities", "--out"]
    assert main([*args, str(tmp_path / "r")]) == 0
    result = json.loads((tmp_path / "r" / "field_axis.json").read_text())
    assert set(result["splits"]) == {"id", "test-cities"}
    assert len(result["splits"]["test-cities"]["scenarios"]) == 16 and result["splits"]["test-cities"]["n"] == 16 * 12
    # a one-city checkpoint refuses other cities by name
    assert main(["axis", "field", "--seeds", "1", "--splits", "test-cities", "--out", str(tmp_path / "s")]) == 2
    assert "reads one city" in capsys.readouterr().err
