"""The CDWM network: an ensemble of recurrent state-space models (RSSM, the Dreamer family).

A member's latent state is ``s_t = (h_t, z_t)``: ``h`` deterministic (a 96-unit GRU) and ``z``
stochastic (32 diagonal Gaussians). With ``e_t`` the embedding of observation ``o_t`` and ``a_t``
the action:

* transition ``h_{t+1} = GRU(h_t, [z_t, f(a_t)])``;
* prior ``p(z_{t+1} | h_{t+1})`` (what imagination samples) and posterior
  ``q(z_{t+1} | h_{t+1}, e_{t+1})`` (what observation infers);
* heads from ``[h_{t+1}, z_{t+1}]``: the step-``t`` KPIs (``agents/twm_agents/cdwm/data.py:KPI_NAMES``,
  standardized, symlog where they span orders of magnitude) and the next observation.

The encoder is structured: controllable-world keys (``csw_*``) and exogenous keys (``egw_*``)
have their own input layers before a shared one; actions have their own encoder (with FWM
features, the action's FWM summary goes through it too: ``RSSMShape.fwm_dim``).

Training maximizes the ELBO (``agents/twm_agents/cdwm/train.py``): KPI and observation reconstruction plus
the KL between posterior and prior, balanced (0.8 of the gradient to the prior) with 1 free nat,
as in DreamerV2/V3; plus the KPI error of an open-loop rollout from the first posterior (the
imagination the planner uses). :class:`CDWMEnsemble` holds the members and the normalization
(buffers), so a checkpoint is its ``state_dict``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F

MIN_STD = 0.1
FREE_NATS = 1.0
KL_BALANCE = 0.8
OPEN_LOOP_LOSSES = ("mse", "crps")
"""How the open-loop (imagined) KPIs are scored in training: :meth:`RSSM.elbo_terms`."""


@dataclass(frozen=True)
class RSSMShape:
    """Everything needed to rebuild the network before loading weights."""

    obs_dim: int
    csw_dim: int  # the first csw_dim observation entries are csw_* keys, the rest egw_*
    act_dim: int
    kpi_dim: int
    members: int = 3
    deter: int = 96
    stoch: int = 32
    hidden: int = 128
    fwm_dim: int = 0  # FWM summary entries appended to every step's action (agents/twm_agents/cdwm/fieldinfo.py)
    encoding: str = "flat"  # "flat" vectors of one city, or "sets": city-free summaries (cdwm/encoding.py)
    observations: str = "all"  # "all", or "csw": the controllable world's keys alone (obs_dim == csw_dim)

    @property
    def input_dim(self) -> int:
        """Per-step input: the action and, with FWM features, their summary."""
        return self.act_dim + self.fwm_dim


def symlog(x: Tensor) -> Tensor:
    return torch.sign(x) * torch.log1p(torch.abs(x))


def symexp(x: Tensor) -> Tensor:
    return torch.sign(x) * torch.expm1(torch.abs(x))


class Gaussian:
    """A diagonal Gaussian from ``2 * stoch`` raw statistics (std floored at ``MIN_STD``)."""

    def __init__(self, stats: Tensor) -> None:
        self.mean, raw = stats.chunk(2, dim=-1)
        self.std = F.softplus(raw) + MIN_STD

    def sample(self) -> Tensor:
        return self.mean + self.std * torch.randn_like(self.std)

    def detach(self) -> Gaussian:
        out = Gaussian.__new__(Gaussian)
        out.mean, out.std = self.mean.detach(), self.std.detach()
        return out

    def kl(self, other: Gaussian) -> Tensor:
        """``KL(self || other)`` summed over dimensions."""
        var_ratio = (self.std / other.std) ** 2
        t1 = ((self.mean - other.mean) / other.std) ** 2
        return 0.5 * (var_ratio + t1 - 1.0 - torch.log(var_ratio)).sum(dim=-1)


class RSSM(nn.Module):
    """One ensemble member."""

    def __init__(self, shape: RSSMShape) -> None:
        super().__init__()
        h, d, s = shape.hidden, shape.deter, shape.stoch
        self.shape = shape
        self.csw_in = nn.Linear(shape.csw_dim, 96)
        with warnings.catch_warnings():  # a CSW-only model has no exogenous inputs: this layer is its bias
            warnings.filterwarnings("ignore", "Initializing zero-element tensors", UserWarning)
            self.egw_in = nn.Linear(shape.obs_dim - shape.csw_dim, 64)
        self.embed_out = nn.Sequential(nn.SiLU(), nn.Linear(160, h), nn.SiLU())
        self.act_in = nn.Sequential(nn.Linear(shape.input_dim, 64), nn.SiLU())
        self.cell = nn.GRUCell(s + 64, d)
        self.prior_net = nn.Sequential(nn.Linear(d, h), nn.SiLU(), nn.Linear(h, 2 * s))
        self.post_net = nn.Sequential(nn.Linear(d + h, h), nn.SiLU(), nn.Linear(h, 2 * s))
        self.kpi_head = nn.Sequential(
            nn.Linear(d + s, h), nn.SiLU(), nn.Linear(h, h), nn.SiLU(), nn.Linear(h, shape.kpi_dim)
        )
        self.obs_head = nn.Sequential(nn.Linear(d + s, h), nn.SiLU(), nn.Linear(h, shape.obs_dim))

    def embed(self, obs: Tensor) -> Tensor:
        c = self.shape.csw_dim
        return self.embed_out(torch.cat([self.csw_in(obs[..., :c]), self.egw_in(obs[..., c:])], dim=-1))

    def prior(self, h: Tensor) -> Gaussian:
        return Gaussian(self.prior_net(h))

    def posterior(self, h: Tensor, e: Tensor) -> Gaussian:
        return Gaussian(self.post_net(torch.cat([h, e], dim=-1)))

    def transition(self, h: Tensor, z: Tensor, act: Tensor) -> Tensor:
        return self.cell(torch.cat([z, self.act_in(act)], dim=-1), h)

    def initial(self, e0: Tensor) -> tuple[Tensor, Gaussian, Gaussian]:
        """``h_0`` (zeros), the posterior of ``z_0`` from the first embedding, and its prior."""
        h = e0.new_zeros(e0.shape[0], self.shape.deter)
        return h, self.posterior(h, e0), self.prior(h)

    def kpi(self, h: Tensor, z: Tensor) -> Tensor:
        return self.kpi_head(torch.cat([h, z], dim=-1))

    def elbo_terms(self, obs: Tensor, act: Tensor, kpi: Tensor, open_loop: str = "mse") -> dict[str, Tensor]:
        """Loss terms on normalized sequences ``obs (B, T+1, D)``, ``act (B, T, A)``, ``kpi (B, T, K)``.

        ``open_loop`` scores the imagined KPIs (``OPEN_LOOP_LOSSES``): "mse", one open-loop chain's
        squared error, which is least when imagination returns the conditional mean (its futures
        then spread too little); "crps", two chains from the same posterior start and the fair
        two-sample CRPS per KPI and step, ``(|x1 - y| + |x2 - y|) / 2 - |x1 - x2| / 2``, a proper
        score that is least when the chains are draws of the KPIs' distribution.

        Only the recurrences loop over steps; embeddings and heads run on whole sequences.
        """
        if open_loop not in OPEN_LOOP_LOSSES:
            raise ValueError(f"open_loop: expected one of {list(OPEN_LOOP_LOSSES)}, got {open_loop!r}")
        chains = 2 if open_loop == "crps" else 1
        e = self.embed(obs)
        h, post, prior = self.initial(e[:, 0])
        kl = _balanced_kl(post, prior)
        z = post.sample()
        h_ol, z_ol = (h, z) if chains == 1 else (h.repeat(chains, 1), z.repeat(chains, 1))  # open-loop chains
        act_ol = act if chains == 1 else act.repeat(chains, 1, 1)  # ... from the same posterior, same actions
        feats, feats_ol = [torch.cat([h, z], dim=-1)], []
        for t in range(act.shape[1]):
            h = self.transition(h, z, act[:, t])
            prior, post = self.prior(h), self.posterior(h, e[:, t + 1])
            kl = kl + _balanced_kl(post, prior)
            z = post.sample()
            feats.append(torch.cat([h, z], dim=-1))
            h_ol = self.transition(h_ol, z_ol, act_ol[:, t])
            z_ol = self.prior(h_ol).sample()
            feats_ol.append(torch.cat([h_ol, z_ol], dim=-1))
        feat = torch.stack(feats, dim=1)  # (B, T + 1, d + s)
        imagined = self.kpi_head(torch.stack(feats_ol, dim=1))  # (chains * B, T, K)
        if chains == 1:
            open_loop_term = F.mse_loss(imagined, kpi)
        else:
            first, second = imagined.chunk(2)
            open_loop_term = fair_crps(first, second, kpi).mean()
        return {
            "kpi": F.mse_loss(self.kpi_head(feat[:, 1:]), kpi),
            "obs": F.mse_loss(self.obs_head(feat), obs),
            "kl": kl / feat.shape[1],
            "kpi_open_loop": open_loop_term,
        }


def fair_crps(x1: Tensor, x2: Tensor, y: Tensor) -> Tensor:
    """Elementwise fair CRPS of two draws ``x1, x2`` for the outcome ``y``: ``(|x1 - y| + |x2 - y|
    - |x1 - x2|) / 2`` (>= 0; its expectation is the CRPS of the draws' distribution up to the
    outcome's own term, so it is least when the draws come from the outcome's distribution, where
    squared error is least for their mean)."""
    return 0.5 * ((x1 - y).abs() + (x2 - y).abs() - (x1 - x2).abs())


def _balanced_kl(post: Gaussian, prior: Gaussian) -> Tensor:
    """KL balancing with free nats: most of the gradient trains the prior towards the posterior."""
    to_prior = post.detach().kl(prior)
    to_post = post.kl(prior.detach())
    kl = KL_BALANCE * to_prior + (1.0 - KL_BALANCE) * to_post
    return torch.clamp(kl, min=FREE_NATS).mean()


class CDWMEnsemble(nn.Module):
    """``M`` :class:`RSSM` members with the data's normalization."""

    obs_mean: Tensor
    obs_std: Tensor
    act_mean: Tensor
    act_std: Tensor
    kpi_mean: Tensor
    kpi_std: Tensor
    symlog_mask: Tensor

    def __init__(self, shape: RSSMShape) -> None:
        super().__init__()
        self.shape = shape
        self.members = nn.ModuleList(RSSM(shape) for _ in range(shape.members))
        for name, dim in (("obs", shape.obs_dim), ("act", shape.input_dim), ("kpi", shape.kpi_dim)):
            self.register_buffer(f"{name}_mean", torch.zeros(dim))
            self.register_buffer(f"{name}_std", torch.ones(dim))
        self.register_buffer("symlog_mask", torch.zeros(shape.kpi_dim, dtype=torch.bool))

    @property
    def rssms(self) -> list[RSSM]:
        return cast(list[RSSM], list(self.members))

    def set_normalization(self, obs: Tensor, act: Tensor, kpi: Tensor, symlog_mask: Tensor) -> None:
        self.symlog_mask.copy_(symlog_mask)
        k = self._kpi_space(kpi)
        for name, x in (("obs", obs), ("act", act), ("kpi", k)):
            flat = x.reshape(-1, x.shape[-1])
            getattr(self, f"{name}_mean").copy_(flat.mean(dim=0))
            getattr(self, f"{name}_std").copy_(flat.std(dim=0).clamp_min(1e-3))

    def _kpi_space(self, kpi: Tensor) -> Tensor:
        return torch.where(self.symlog_mask, symlog(kpi), kpi)

    def norm_obs(self, obs: Tensor) -> Tensor:
        return (obs - self.obs_mean) / self.obs_std

    def norm_act(self, act: Tensor) -> Tensor:
        return (act - self.act_mean) / self.act_std

    def norm_kpi(self, kpi: Tensor) -> Tensor:
        return (self._kpi_space(kpi) - self.kpi_mean) / self.kpi_std

    def denorm_kpi(self, k: Tensor) -> Tensor:
        x = k * self.kpi_std + self.kpi_mean
        return torch.where(self.symlog_mask, symexp(x), x)

    def observe(self, obs: Tensor, act: Tensor, samples: int = 1) -> tuple[Tensor, Tensor]:
        """Filter histories ``obs (B, t+1, D)``, ``act (B, t, A)`` (raw) into ``h (M, B*S, d)``, ``z (M, B*S, s)``.

        Each member's posterior at the last observation, ``samples`` draws of ``z`` per history.
        """
        o, a = self.norm_obs(obs), self.norm_act(act)
        hs, zs = [], []
        for m in self.rssms:
            e = m.embed(o)
            h, post, _ = m.initial(e[:, 0])
            z = post.mean
            for t in range(a.shape[1]):
                h = m.transition(h, z, a[:, t])
                post = m.posterior(h, e[:, t + 1])
                z = post.mean
            h = h.repeat_interleave(samples, dim=0)
            mean, std = post.mean.repeat_interleave(samples, 0), post.std.repeat_interleave(samples, 0)
            z = mean + std * torch.randn_like(std) if samples > 1 else mean
            hs.append(h)
            zs.append(z)
        return torch.stack(hs), torch.stack(zs)

    def imagine(
        self, h: Tensor, z: Tensor, actions: Tensor, sample: bool = True, noise: Tensor | None = None
    ) -> Tensor:
        """KPI trajectories ``(M, N, H, K)`` natural units from states ``(M, N, .)`` under raw ``actions (N, H, A)``.

        ``noise (M, N, H, stoch)``, when given, is the standard-normal draw of each prior sample
        (common random numbers: rows that share noise differ only by their actions). Only the
        transition and the prior loop over steps; action encoding and the KPI head run on whole
        sequences.
        """
        a = self.norm_act(actions)
        out = []
        for i, m in enumerate(self.rssms):
            hi, zi, feats = h[i], z[i], []
            act = m.act_in(a)  # (N, H, 64)
            for t in range(a.shape[1]):
                hi = m.cell(torch.cat([zi, act[:, t]], dim=-1), hi)
                prior = m.prior(hi)
                if not sample:
                    zi = prior.mean
                elif noise is None:
                    zi = prior.sample()
                else:
                    zi = prior.mean + prior.std * noise[i, :, t]
                feats.append(torch.cat([hi, zi], dim=-1))
            out.append(m.kpi_head(torch.stack(feats, dim=1)))
        return self.denorm_kpi(torch.stack(out))
