"""The Field World Model: dataset, training on the tiny config, calibration, checkpoints, scorer, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from twm_agents.fwm import checkpoint
from twm_agents.fwm.data import FieldDataset, generate
from twm_agents.fwm.fields import CHANNELS, FEATURES, NOMINAL_CAPACITY_MBPS, field_geometry, pressure
from twm_agents.fwm.predictor import FieldModel
from twm_agents.fwm.scorer import FieldScorer, spatial_risk
from twm_agents.fwm.train import FWMConfig, make_splits, train
from twm_bench.cli import main
from twm_gym.core.candidates import candidate_library
from twm_gym.core.egw import initial_egw, roll
from twm_gym.core.rng import domain_seeds, seed_keys
from twm_gym.scenarios import load_scenario

TINY = FWMConfig.preset("tiny")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[FieldModel, Path]:
    out = tmp_path_factory.mktemp("fwm") / "tiny"
    return train(TINY, out, progress=None), out


def test_dataset_is_deterministic_and_shaped() -> None:
    a = generate("hotspot-id", range(5), rng_seed=3)
    b = generate("hotspot-id", range(5), rng_seed=3)
    c = generate("hotspot-id", range(5), rng_seed=4)
    assert a.digest() == b.digest()
    assert a.digest() != c.digest()  # other allocations
    g = load_scenario("hotspot-id").city.grid
    assert a.x.shape == (60, len(CHANNELS), g, g) and a.x.dtype == np.float32
    assert a.y.shape == (60, 10, len(FEATURES)) and a.sinr.shape == (60, g, g)
    assert np.isfinite(a.x).all() and np.isfinite(a.y).all()
    assert set(a.step.tolist()) == set(range(12))
    assert (a.candidate == -1).any() and (a.candidate >= 0).any()  # both library and random allocations


def test_features_follow_the_twin(tmp_path: Path) -> None:
    """Units and values against the twin's own drivers for library candidates."""
    sc = load_scenario("wave-id")
    data = generate(sc, range(3), rng_seed=0)
    geom, lib = field_geometry(sc), candidate_library(sc)
    path = roll(geom.comp, initial_egw(geom.comp, 3), seed_keys(domain_seeds(np.arange(3), 0x46574D31)), 0, 12)
    for i in np.flatnonzero(data.candidate >= 0)[:10]:
        t, row, k = int(data.step[i]), int(data.seed[i]), int(data.candidate[i])
        drv = path.at(t).take(np.array([row]))
        p = lib.p[k, t]
        cap = p * drv.capacity[0][:, None] / NOMINAL_CAPACITY_MBPS
        np.testing.assert_allclose(data.y[i, :, 0:3], cap, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(data.y[i, :, 3:6], pressure(drv.demand[0], p * drv.capacity[0][:, None]), atol=1e-6)
        np.testing.assert_allclose(data.y[i, :, FEATURES.index("sinr_db")], drv.sinr_db[0], atol=1e-5)
    pressures = data.y[..., 3:10]
    assert (pressures >= 0).all() and (pressures <= 1).all()
    assert (data.y[..., 0:3] >= 0).all() and (data.y[..., 0:3] <= 1).all()
    data.save(tmp_path / "d.npz")
    assert FieldDataset.load(tmp_path / "d.npz").digest() == data.digest()


def test_tiny_model_beats_the_mean_predictor(tiny: tuple[FieldModel, Path]) -> None:
    model, _ = tiny
    splits = make_splits(TINY)
    pred = model.predict(splits.test[0].x, with_field=True)
    scale = splits.train[0].y.reshape(-1, len(FEATURES)).std(axis=0)  # per feature
    mse_model = np.mean(((pred.mean - splits.test[0].y) / scale) ** 2)
    mse_mean = np.mean(((splits.train[0].y.mean(axis=0) - splits.test[0].y) / scale) ** 2)
    assert mse_model < 0.7 * mse_mean  # the per-(cell, feature) mean of the training set
    assert model.meta["metrics"]["test"]["r2"] > 0.5
    # the field head too: better than the training set's mean SINR
    assert np.mean((pred.sinr_map - splits.test[0].sinr) ** 2) < np.mean(
        (splits.train[0].sinr.mean() - splits.test[0].sinr) ** 2
    )


def test_conformal_intervals_cover(tiny: tuple[FieldModel, Path]) -> None:
    model, _ = tiny
    picp = model.meta["metrics"]["test"]["picp"]
    assert 0.8 <= picp <= 0.98  # 90 % nominal, a small calibration set
    pred = model.predict(make_splits(TINY).test[0].x[:8], with_field=False, confidence=0.5)
    wide = model.predict(make_splits(TINY).test[0].x[:8], with_field=False, confidence=0.95)
    assert ((wide.hi - wide.lo) >= (pred.hi - pred.lo) - 1e-6).all()
    with pytest.raises(ValueError, match="confidence"):
        model.predict(make_splits(TINY).test[0].x[:2], confidence=1.5)


def test_checkpoint_round_trip_is_exact(tiny: tuple[FieldModel, Path]) -> None:
    model, out = tiny
    x = make_splits(TINY).test[0].x[:16]
    again = FieldModel.load(out, scenario=load_scenario("hotspot-ood"))
    a, b = model.predict(x), again.predict(x)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.lo, b.lo)
    np.testing.assert_array_equal(a.sinr_map, b.sinr_map)
    assert again.meta["data_sha256"] == model.meta["data_sha256"]


def test_tampered_or_mismatched_checkpoints_fail_clearly(tiny: tuple[FieldModel, Path], tmp_path: Path) -> None:
    model, _ = tiny
    model.save(tmp_path / "m")
    weights, meta = checkpoint.paths(tmp_path / "m")
    raw = bytearray(weights.read_bytes())
    raw[-3] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(checkpoint.CheckpointError, match="SHA-256"):
        FieldModel.load(tmp_path / "m")

    model.save(tmp_path / "n")
    _, meta = checkpoint.paths(tmp_path / "n")
    record = json.loads(meta.read_text())
    record["features"] = record["features"][:-1]
    meta.write_text(json.dumps(record))
    with pytest.raises(checkpoint.CheckpointError, match="features"):
        FieldModel.load(tmp_path / "n")

    model.save(tmp_path / "o")
    _, meta = checkpoint.paths(tmp_path / "o")
    record = json.loads(meta.read_text())
    record["shape"]["width"] = 16
    meta.write_text(json.dumps(record))
    with pytest.raises(checkpoint.CheckpointError, match="model shape"):
        FieldModel.load(tmp_path / "o")

    with pytest.raises(checkpoint.CheckpointError, match="another city"):
        FieldModel.load(_saved(model, tmp_path / "p"), scenario=load_scenario("tiny"))
    with pytest.raises(checkpoint.CheckpointError, match="does not exist"):
        FieldModel.load(tmp_path / "missing")


def _saved(model: FieldModel, path: Path) -> Path:
    model.save(path)
    return path


def test_shipped_checkpoint_ranks_candidates_by_true_risk() -> None:
    """The default checkpoint's spatial risk orders the 256 library candidates as the analytic features do."""
    from twm_agents.fwm.fields import config_channels, exo_channels, field_features
    from twm_gym.core.egw import drivers_of

    sc = load_scenario("hotspot-id")
    model = FieldModel.default(scenario=sc)
    scorer = FieldScorer(model, sc)
    geom, lib = field_geometry(sc), candidate_library(sc)
    path = roll(geom.comp, initial_egw(geom.comp, 1), seed_keys(domain_seeds(np.array([7]), 99)), 0, 6)
    state, t = path.state(4), 5
    scores = scorer.score(state, t, lib.p[:, t], lib.b[:, t])
    assert scores.risk.shape == scores.risk_sd.shape == (256,)
    assert (scores.risk >= scores.risk_mean - 1e-6).all()  # the upper end is pessimistic
    drv = drivers_of(geom.comp, state, t)
    truth = spatial_risk(field_features(geom, drv, lib.p[:, t], lib.b[:, t]))
    rho = spearmanr(scores.risk_mean, truth).statistic
    assert rho > 0.95, rho
    exo = exo_channels(geom, drv)
    x = np.concatenate(
        [np.broadcast_to(exo, (256, *exo.shape[1:])), config_channels(geom, drv, lib.p[:, t], lib.b[:, t])], axis=1
    )
    np.testing.assert_array_equal(x, scorer.channels(state, t, lib.p[:, t], lib.b[:, t]))
    # the shared-encoder path is the plain forward pass, computed once for the field
    full = model.predict(x, with_field=False)
    np.testing.assert_allclose(scores.prediction.mean, full.mean, rtol=1e-4, atol=1e-4)


def test_cli_train_and_axis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ck"
    assert (
        main(["train", "fwm", "--config", "tiny", "--set", "epochs=1", "ood_seeds=0", "--out", str(out), "--quiet"])
        == 0
    )
    FieldModel.load(out)
    assert main(["axis", "field", "--checkpoint", str(out), "--seeds", "2", "--out", str(tmp_path / "r")]) == 0
    result = json.loads((tmp_path / "r" / "field_axis.json").read_text())
    assert set(result["splits"]) == {"id", "ood"} and "sinr_ssim" in result["splits"]["ood"]
    assert main(["train", "fwm", "--set", "epoch=3", "--out", str(out)]) == 2
    assert "valid fields" in capsys.readouterr().err
    assert main(["train", "fwm", "--config", "huge", "--out", str(out)]) == 2
    assert "tiny" in capsys.readouterr().err
    assert main(["axis", "field", "--checkpoint", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
