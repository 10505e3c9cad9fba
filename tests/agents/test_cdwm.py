"""The Control/Dynamics World Model: logged data, episode formulas, the tiny model, checkpoints, ranking."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from twm_agents.cdwm.data import (
    KPI_NAMES,
    Trajectories,
    generate,
    live_step_kpi_vector,
    logging_mix,
    step_kpi_vector,
    unseen_candidates,
)
from twm_agents.cdwm.evaluate import ranking_quality, start_states
from twm_agents.cdwm.model import CDWMEnsemble, RSSMShape, fair_crps
from twm_agents.cdwm.predictor import CDWMModel
from twm_agents.cdwm.train import CDWMConfig, make_splits, train
from twm_agents.cdwm.utility import episode_from_steps
from twm_agents.checkpoint_io import CheckpointError, paths
from twm_bench.cli import main
from twm_gym.core.candidates import candidate_library
from twm_gym.core.kpi import Utility
from twm_gym.core.sim import Simulation
from twm_gym.envs.layout import Observer, layout_for
from twm_gym.scenarios import load_scenario

TINY = CDWMConfig.preset("tiny")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[CDWMModel, Path]:
    out = tmp_path_factory.mktemp("cdwm") / "tiny"
    return train(TINY, out, progress=None), out


def test_dataset_is_deterministic_and_logs_its_policy(tmp_path: Path) -> None:
    a = generate("wave-id", range(6), rng_seed=1)
    assert a.digest() == generate("wave-id", range(6), rng_seed=1).digest()
    assert a.digest() != generate("wave-id", range(6), rng_seed=2).digest()
    assert a.obs.shape[:2] == (6, 13) and a.act.shape == (6, 12, 60) and a.kpi.shape == (6, 12, len(KPI_NAMES))
    mix = logging_mix()
    assert set(a.candidate) <= set(mix) and not set(mix) & set(unseen_candidates())
    np.testing.assert_allclose(a.logp_candidate, -np.log(len(mix)))
    # the logged density is the log-normal density of the action around the candidate's shares
    sc = load_scenario("wave-id")
    lib, layout = candidate_library(sc), layout_for(sc)
    for e in range(3):
        base = np.stack([layout.pack(lib.p[a.candidate[e], t], lib.b[a.candidate[e], t]) for t in range(12)])
        live = base > 0
        sig = a.sigma[e]
        mu = np.log(np.where(live, base, 1.0)) - sig**2 / 2
        x = np.where(live, a.act[e], 1.0)
        logpdf = -np.log(x * sig * np.sqrt(2 * np.pi)) - (np.log(x) - mu) ** 2 / (2 * sig**2)
        np.testing.assert_allclose(a.logp_action[e], np.where(live, logpdf, 0).sum(axis=1), rtol=1e-4)
        np.testing.assert_array_equal(a.act[e][~live], 0.0)
    unseen = generate("wave-id", range(4), candidates=unseen_candidates())
    assert set(unseen.candidate) <= set(unseen_candidates())
    a.save(tmp_path / "t.npz")
    assert Trajectories.load(tmp_path / "t.npz").digest() == a.digest()


def test_episode_formulas_reproduce_the_twin() -> None:
    sc = load_scenario("hotspot-id")
    lib, observer = candidate_library(sc), Observer(layout_for(sc))
    k = np.arange(0, 256, 4)
    sim = Simulation(sc, np.arange(len(k)) + 100)
    steps = [step_kpi_vector(sc, observer, sim.step(lib.p[k, t], lib.b[k, t])) for t in range(12)]
    est, truth = episode_from_steps(sc, np.stack(steps, axis=1)), sim.kpis()
    np.testing.assert_allclose(est.loss, truth.loss, atol=1e-6)
    np.testing.assert_array_equal(est.violation, truth.violation)
    np.testing.assert_allclose(est.cost, truth.cost, rtol=1e-5)
    assert np.median(np.abs(est.d99_ms - truth.d99_ms) / truth.d99_ms) < 0.1
    # the episode d99 is recovered from the steps' mean exceedances (pooled_d99), an approximation,
    # so the utility's excess term is exact where loss sets the worst excess and close where latency does
    gap = np.abs(Utility()(est) - Utility()(truth))
    assert np.median(gap) < 1e-4 and np.quantile(gap, 0.9) < 0.1


def test_tiny_model_beats_persistence(tiny: tuple[CDWMModel, Path]) -> None:
    """Imagining the rest of held-out episodes from step 3 (what the planner does) beats holding the
    last observed step's KPIs, in standardized units."""
    model, _ = tiny
    data = make_splits(TINY).tests["id"]
    t0 = 3
    torch.manual_seed(0)
    state = model.observe(data.obs[:, : t0 + 1], data.act[:, :t0], samples=4)
    pred = model.imagine(state, data.act[:, t0:]).mean

    def z(x: np.ndarray) -> np.ndarray:
        return model.ensemble.norm_kpi(torch.from_numpy(np.ascontiguousarray(x))).numpy()

    truth = z(data.kpi[:, t0:])
    persistence = np.repeat(data.kpi[:, t0 - 1 : t0], data.act.shape[1] - t0, axis=1)
    assert np.mean((z(pred) - truth) ** 2) < 0.85 * np.mean((z(persistence) - truth) ** 2)


def test_imagination_is_action_conditioned() -> None:
    """Provisioning 70 % instead of 100 % of the uniform split loses more traffic, queues more and
    costs less (the twin's direction). Both are in the logging policy's support; far outside it
    (e.g. every share at 0.05) the model extrapolates and is not trusted (docs/explanation/cdwm.md)."""
    sc = load_scenario("hotspot-id")
    model = CDWMModel.default()
    lib, layout = candidate_library(sc), layout_for(sc)
    start = start_states(sc, [11], t0=2)[0]
    state = model.observe(start.obs[None], start.act[None], samples=4)
    full, lean = (lib.index(f"uniform/uniform/constant/{x}") for x in ("1.00", "0.70"))
    actions = np.stack([layout.pack(lib.p[i, 2:], lib.b[i, 2:]) for i in (full, lean)])
    torch.manual_seed(0)
    mean = model.imagine(state, actions).mean  # (2, H, K)
    lost = mean[..., [KPI_NAMES.index(f"lost_{s}") for s in ("embb", "urllc", "fwa")]].sum(axis=(1, 2))
    backlog = mean[..., KPI_NAMES.index("radio_backlog_embb")].mean(axis=1)
    cost = mean[..., KPI_NAMES.index("cost")].sum(axis=1)
    assert lost[1] > lost[0] and backlog[1] > backlog[0] and cost[1] < cost[0]


def test_checkpoint_round_trip(tiny: tuple[CDWMModel, Path], tmp_path: Path) -> None:
    model, out = tiny
    again = CDWMModel.load(out)
    data = make_splits(TINY).tests["id"]
    results = []
    for m in (model, again):
        torch.manual_seed(3)
        results.append(m.imagine(m.observe(data.obs[:, :1], data.act[:, :0], 2), data.act))
    np.testing.assert_array_equal(results[0].draws, results[1].draws)
    np.testing.assert_array_equal(results[0].lo, results[1].lo)
    assert again.meta["data_sha256"] == model.meta["data_sha256"]
    model.save(tmp_path / "m")
    weights, meta = paths(tmp_path / "m")
    raw = bytearray(weights.read_bytes())
    raw[-5] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="SHA-256"):
        CDWMModel.load(tmp_path / "m")
    model.save(tmp_path / "n")
    _, meta = paths(tmp_path / "n")
    record = json.loads(meta.read_text())
    record["kpis"] = record["kpis"][::-1]
    meta.write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="kpis"):
        CDWMModel.load(tmp_path / "n")


def test_tiny_metrics_and_calibration(tiny: tuple[CDWMModel, Path]) -> None:
    model, _ = tiny
    metrics = model.meta["metrics"]
    assert set(metrics) == {"id", "unseen_action", "ood"}
    for split in metrics.values():
        for key in ("step_rmse", "picp", "crps", "brier", "ece", "disagreement_error_corr", "cumulative_mae_loss"):
            assert np.isfinite(split[key]), key
    assert 0.75 <= metrics["id"]["picp"] <= 0.99  # 90 % nominal, small calibration set
    assert 0.0 <= metrics["id"]["brier"] <= 0.5


def test_common_random_numbers() -> None:
    """With common noise, identical actions imagine the same futures; independent draws differ.

    "The same" up to float32 rounding: a batched matmul may round two equal rows differently (seen on
    an AVX-512 CPU), so the check is relative, six orders of magnitude below the independent spread.
    """
    sc = load_scenario("hotspot-id")
    model = CDWMModel.default()
    lib, layout = candidate_library(sc), layout_for(sc)
    start = start_states(sc, [12], t0=1)[0]
    state = model.observe(start.obs[None], start.act[None], samples=3)
    same = np.repeat(layout.pack(lib.p[5, 1:], lib.b[5, 1:])[None], 2, axis=0)
    torch.manual_seed(1)
    shared = model.imagine(state, same).draws
    np.testing.assert_allclose(shared[:, 0], shared[:, 1], rtol=1e-5, atol=1e-6)
    torch.manual_seed(1)
    independent = model.imagine(state, same, common_noise=False).draws
    assert not np.allclose(independent[:, 0], independent[:, 1], rtol=1e-2)


def test_ranking_without_intervals_scores_the_same() -> None:
    """Skipping the KPI intervals (what the planner does every step) changes no score."""
    sc = load_scenario("wave-id")
    model = CDWMModel.default()
    lib = candidate_library(sc)
    start = start_states(sc, [3], t0=2)[0]
    p, b = lib.p[:6, 2:], lib.b[:6, 2:]
    torch.manual_seed(4)
    full = model.rank(sc, start.obs, start.act, start.kpi, p, b, samples=2)
    torch.manual_seed(4)
    lean = model.rank(sc, start.obs, start.act, start.kpi, p, b, samples=2, intervals=False)
    for name in ("utility", "disagreement", "p_violation"):
        assert np.array_equal(getattr(lean, name), getattr(full, name)), name
    assert np.isfinite(full.imagined.lo).all() and np.isneginf(lean.imagined.lo).all()


def test_live_step_kpis_equal_the_twins() -> None:
    """What an agent rebuilds from two snapshots and the observation is the twin's step KPI vector."""
    sc = load_scenario("wave-ood")
    lib, observer = candidate_library(sc), Observer(layout_for(sc))
    sim = Simulation(sc, [5])
    before = sim.snapshot(0)
    for t in range(sc.horizon):
        tr = sim.step(lib.p[[40], t], lib.b[[40], t])
        after = sim.snapshot(0)
        obs = observer.observe(t + 1, tr.csw, tr.egw, tr.drivers, tr.result)
        live = live_step_kpi_vector(sc, before, after, obs["csw_radio_util"][0])
        np.testing.assert_allclose(live, step_kpi_vector(sc, observer, tr)[0], rtol=1e-5, atol=1e-6)
        before = after
    with pytest.raises(ValueError, match="consecutive"):
        live_step_kpi_vector(sc, after, after, obs["csw_radio_util"][0])


def test_shipped_checkpoint_ranks_candidates() -> None:
    """Spearman over the 256 candidates vs twin-expected utility, one held-out start state."""
    r = ranking_quality(CDWMModel.default(), load_scenario("hotspot-id"), [8_000_001], t0=3, futures=16, samples=4)
    assert r["spearman"] > 0.7, r


def test_minari_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("minari")
    pytest.importorskip("h5py")
    from twm_agents.cdwm.data import to_minari

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    data = generate("tiny", range(3))
    with pytest.warns(UserWarning):  # minari asks for an author e-mail and a code permalink
        ds = to_minari(data, "twm/tiny-logging-v0", author="twm-gym")
    assert ds.total_episodes == 3 and ds.total_steps == 3 * data.act.shape[1]
    episode = next(ds.iterate_episodes())
    np.testing.assert_allclose(episode.infos["logp_action"], data.logp_action[0])
    np.testing.assert_allclose(episode.observations, data.obs[0])


def test_cli_train_and_axis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ck"
    args = ["train", "cdwm", "--config", "tiny", "--set", "updates=10", "test_episodes=0", "--out", str(out), "--quiet"]
    assert main(args) == 0
    CDWMModel.load(out)
    axis = [
        "axis",
        "trajectory",
        "--checkpoint",
        str(out),
        "--seeds",
        "2",
        "--states",
        "0",
        "--out",
        str(tmp_path / "r"),
    ]
    assert main(axis) == 0
    result = json.loads((tmp_path / "r" / "trajectory_axis.json").read_text())
    assert set(result["splits"]) == {"id", "unseen_action", "ood"}
    assert main(["train", "cdwm", "--set", "members=zero", "--out", str(out)]) == 2
    assert "members" in capsys.readouterr().err


def test_fwm_conditioned_cdwm() -> None:
    """With ``fwm_features`` every step's input carries the FWM's summary of the action; ranking then
    needs the field model and the exogenous state, and says so when they are missing."""
    from twm_agents.cdwm.fieldinfo import FWM_SUMMARY
    from twm_agents.fwm.predictor import FieldModel

    config = CDWMConfig.preset("tiny").replace({"fwm_features": "true", "updates": "20", "test_episodes": "0"})
    model = train(config, None, progress=None)
    assert model.shape.fwm_dim == len(FWM_SUMMARY) == 24
    sc = load_scenario("hotspot-id")
    fwm = FieldModel.default(sc)
    start = start_states(sc, [5], t0=2, fwm=fwm)[0]
    assert start.fwm.shape == (2, 24)
    lib = candidate_library(sc)
    args = (sc, start.obs, start.act, start.kpi, lib.p[:8, 2:], lib.b[:8, 2:])
    ranking = model.rank(*args, samples=2, fwm=fwm, egw_state=start.snapshot.egw, history_fwm=start.fwm)
    assert ranking.utility.shape == (8,) and np.isfinite(ranking.utility).all()
    with pytest.raises(ValueError, match="FWM features"):
        model.rank(*args, samples=2)


def test_fwm_decision_view_freezes_the_field_after_a_random_cut() -> None:
    """``fwm_view="decision"`` trains on what a planner's ranking is fed: the episodes are the
    same as with the step view, each step's summary is too up to the episode's cut ``t0``, and
    later steps see the field of ``t0`` (so they differ once the world has moved)."""
    from twm_agents.fwm.predictor import FieldModel

    fwm = FieldModel.default(device="cpu")
    step = generate("wave-id", range(8), fwm=fwm, fwm_view="step")
    decision = generate("wave-id", range(8), fwm=fwm, fwm_view="decision")
    np.testing.assert_array_equal(step.obs, decision.obs)
    np.testing.assert_array_equal(step.act, decision.act)
    differs = np.abs(step.fwm - decision.fwm).max(axis=2) > 1e-6  # (E, T)
    assert not differs[:, 0].any() and differs.any()  # step 0 is always seen as it is
    with pytest.raises(ValueError, match="fwm_view"):
        generate("wave-id", range(2), fwm=fwm, fwm_view="future")
    with pytest.raises(ValueError, match="fwm_view"):
        CDWMConfig(fwm_view="future")


def test_plan_summaries_equal_the_step_by_step_summaries() -> None:
    """Ranking summarizes a plan's future steps in one batched FWM pass; the numbers are those of
    summarizing each step on the field seen now."""
    from twm_agents.cdwm.fieldinfo import field_summary, plan_summaries
    from twm_agents.fwm.predictor import FieldModel

    sc = load_scenario("wave-id")
    fwm = FieldModel.default(device="cpu")
    lib = candidate_library(sc)
    sim = Simulation(sc, np.array([5]))
    for k in range(3):
        sim.step(lib.p[:1, k], lib.b[:1, k])
    p, b = lib.p[:6, 3:], lib.b[:6, 3:]
    batched = plan_summaries(fwm, sc, sim.egw, 3, p, b)
    stepwise = np.stack([field_summary(fwm, sc, sim.egw, 3 + k, p[:, k], b[:, k]) for k in range(p.shape[1])], 1)
    assert batched.shape == (6, 9, 24)
    np.testing.assert_allclose(batched, stepwise, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="one rollout"):
        plan_summaries(fwm, sc, Simulation(sc, np.array([1, 2])).egw, 0, lib.p[:2], lib.b[:2])


def test_fair_crps_prefers_draws_of_the_outcome_distribution_to_its_mean() -> None:
    """Why imagined KPIs can be scored by CRPS: squared error is least for the mean (a model trained
    on it imagines futures that spread too little), the fair CRPS for draws of the distribution."""
    g = torch.Generator().manual_seed(0)
    y, x1, x2 = (torch.randn(200_000, generator=g) for _ in range(3))
    mean = torch.zeros_like(y)
    assert torch.mean((mean - y) ** 2) < torch.mean((x1 - y) ** 2)
    assert fair_crps(x1, x2, y).mean() < fair_crps(mean, mean, y).mean()
    assert bool((fair_crps(x1, x2, y) >= -1e-6).all())  # the triangle inequality, up to float rounding


def test_open_loop_loss_is_a_validated_training_choice() -> None:
    shape = RSSMShape(obs_dim=6, csw_dim=3, act_dim=2, kpi_dim=4, members=1, deter=8, stoch=4, hidden=8)
    member = CDWMEnsemble(shape).rssms[0]
    obs, act, kpi = torch.randn(5, 4, 6), torch.randn(5, 3, 2), torch.randn(5, 3, 4)
    torch.manual_seed(0)
    default = member.elbo_terms(obs, act, kpi)
    torch.manual_seed(0)
    assert torch.equal(member.elbo_terms(obs, act, kpi, open_loop="mse")["kpi_open_loop"], default["kpi_open_loop"])
    crps = member.elbo_terms(obs, act, kpi, open_loop="crps")["kpi_open_loop"]
    assert torch.isfinite(crps) and crps >= -1e-6
    with pytest.raises(ValueError, match=r"open_loop.*mse.*crps"):
        member.elbo_terms(obs, act, kpi, open_loop="mae")
    with pytest.raises(ValueError, match=r"open_loop_loss.*mse.*crps"):
        TINY.replace({"open_loop_loss": "mae"})
