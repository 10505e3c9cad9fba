"""What the Field World Model sees and predicts: grid channels in, 12 field features per cell out.

The targets are the twin's analytic model (``twm_gym.core``) evaluated on one slow step's
exogenous drivers and one candidate's shares; the inputs are the same step painted on the city's
``G x G`` pixel grid (paper section X-B: "12-dimensional field features ... from the grid of input
channels").

**Input channels** (``CHANNELS``; every pixel takes the value of the cell that serves it where a
quantity is per cell):

* static (the city): site map, serving-cell received power (standardized over the city),
  hospital / FWA / corridor zone masks; and for the any-city model (``channels("sets")``) the
  city's radio geometry in physical units, ``GEOMETRY_CHANNELS``: the serving cell's SNR and its
  SIR with every other cell fully active, dB / 10 (site-specific geometry as a physics prior, the
  paper's section VIII: a pixel's pitch and the distances to its interferers differ between cities);
* exogenous (one step of the EGW): user density, log offered load per slice, interference
  activity, shock field (hotspot and wave surge), link degradation painted along the links, and
  for each of the (up to ``HOPS``) links on the serving cell's current transport path, the log of
  the offered load routed over it per slice over its available capacity;
* configuration (the candidate): the serving cell's PRB share per slice (as itself and its log),
  and the log bandwidth share per slice of each link on its path (logs: the pressures are ratios).

**Field features** (``FEATURES``, per cell ``c``; ``u(d, k) = d / (d + k)`` is the *load pressure*
of demand ``d`` on capacity ``k``: 0.5 at capacity, in [0, 1)):

====  =====================  =================================================================
 0-2  ``cap_<slice>``        allocated slice capacity ``p_cs K_c / K_nom`` (fraction of 550 Mbps)
 3-5  ``load_<slice>``       radio load pressure ``u(D_cs, p_cs K_c)``
 6    ``stress_hospital``    hospital-zone share of the cell's users x URLLC load pressure
 7    ``stress_corridor``    corridor-zone share of the cell's users x eMBB load pressure
 8    ``bottleneck_urllc``   largest URLLC pressure ``u(F_ls, b_ls A_l)`` on the cell's path
 9    ``bottleneck``         largest pressure of any slice on the cell's path (1: no path)
 10   ``sinr_db``            the cell's effective SINR, dB (``core/field.py:cell_capacity``)
 11   ``sinr_p10_db``        10th percentile of the SINR over the cell's pixels, dB
====  =====================  =================================================================

with ``K_c`` the cell capacity at full share (Mbps), ``D_cs`` the offered load (Mbps), ``A_l`` a
link's available capacity (Mbps) and ``F_ls`` the offered load of slice ``s`` of every cell routed
over link ``l``. The features are dimensionless but for the two SINR ones (dB).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from twm_gym.core.compiled import Compiled, compile_scenario
from twm_gym.core.field import sinr
from twm_gym.core.geometry import zone_mask
from twm_gym.core.params import SLICES, ZONES, Scenario
from twm_gym.core.state import Drivers

F32 = NDArray[np.float32]

FEATURES: tuple[str, ...] = (
    *(f"cap_{s}" for s in SLICES),
    *(f"load_{s}" for s in SLICES),
    "stress_hospital",
    "stress_corridor",
    "bottleneck_urllc",
    "bottleneck",
    "sinr_db",
    "sinr_p10_db",
)
FEATURE_UNITS: tuple[str, ...] = ("fraction",) * 3 + ("pressure",) * 3 + ("pressure",) * 4 + ("dB", "dB")

STATIC_CHANNELS: tuple[str, ...] = ("site", "signal", *(f"zone_{z}" for z in ZONES))
EXO_CHANNELS: tuple[str, ...] = (
    "density",
    *(f"log_demand_{s}" for s in SLICES),
    "activity",
    "shock",
    "link_degradation",
    *(f"log_hop{h}_load_{s}" for h in range(1, 4) for s in SLICES),
)
GEOMETRY_CHANNELS: tuple[str, ...] = ("snr_db", "sir_full_db")
"""Static radio geometry in physical units, read by the any-city model only (``channels("sets")``)."""
CONFIG_CHANNELS: tuple[str, ...] = (
    *(f"prb_{s}" for s in SLICES),
    *(f"log_prb_{s}" for s in SLICES),
    *(f"log_hop{h}_bw_{s}" for h in range(1, 4) for s in SLICES),
)
HOPS = 3
"""Links on a cell's transport path painted as channels (3: the longest detour of the ring backups)."""
LOG_FLOOR = 1e-3
"""Shares and loads enter as themselves and as ``log(max(v, LOG_FLOOR))``: load pressures are ratios."""
CHANNELS: tuple[str, ...] = STATIC_CHANNELS + EXO_CHANNELS + CONFIG_CHANNELS
"""The one-city model's input channels (``channels("fixed")``)."""


def channels(cells: str = "fixed") -> tuple[str, ...]:
    """The input channels of a model reading one city (``"fixed"``) or any city (``"sets"``)."""
    if cells == "fixed":
        return CHANNELS
    if cells == "sets":
        return STATIC_CHANNELS + GEOMETRY_CHANNELS + EXO_CHANNELS + CONFIG_CHANNELS
    raise ValueError(f"cells must be 'fixed' or 'sets', got {cells!r}")


NOMINAL_CAPACITY_MBPS = 550.0
"""``K_nom``: 100 MHz at the 5.5 bit/s/Hz spectral-efficiency cap."""
SINR_MAP_RANGE_DB = (-20.0, 40.0)
"""The SINR map target is clipped to this range (as ``TWM/Field-v0``'s ``egw_sinr_map``)."""


def pressure(demand: F32, capacity: F32) -> F32:
    """Load pressure ``d / (d + k)`` in [0, 1): 0 with no demand, 0.5 at capacity, 1 with no capacity."""
    total = demand + capacity
    return np.where(total > 0, demand / np.maximum(total, np.float32(1e-12)), np.float32(0.0)).astype(np.float32)


@dataclass(frozen=True, eq=False)
class FieldGeometry:
    """Static arrays of a city for painting channels and computing features."""

    comp: Compiled
    grid: int  # G
    serve: NDArray[np.intp]  # (X,) serving cell of each pixel
    static: F32  # (len(STATIC_CHANNELS), X)
    geometry: F32  # (len(GEOMETRY_CHANNELS), X) SNR and full-load SIR, dB / 10
    zone_users: F32  # (Z, X) zone masks (float)
    link_pixels: F32  # (L, X) 1 where a link's segment crosses a pixel
    cell_pixels: tuple[NDArray[np.intp], ...]  # per cell, the pixels it serves

    @property
    def n_cells(self) -> int:
        return self.comp.n_cells

    @property
    def n_links(self) -> int:
        return self.comp.n_links


@functools.lru_cache(maxsize=8)
def field_geometry(scenario: Scenario) -> FieldGeometry:
    """The :class:`FieldGeometry` of a scenario's city (cached)."""
    comp = compile_scenario(scenario)
    city, field = scenario.city, comp.field
    g, size = city.grid, city.size_m
    px = field.pixels
    sites = np.asarray(city.cell_xy, dtype=np.float64)
    pitch = size / g
    d2 = ((px[:, None, :] - sites[None, :, :]) ** 2).sum(-1) / pitch**2  # (X, C) in pixels^2
    site = np.exp(-0.5 * d2).max(axis=1)
    signal_db = 10.0 * np.log10(field.signal_mw.astype(np.float64))
    signal = (signal_db - signal_db.mean()) / max(signal_db.std(), 1e-9)
    zones = zone_mask(city, px).astype(np.float32)  # (Z, X)
    static = np.concatenate([site[None], signal[None], zones]).astype(np.float32)
    signal_mw = field.signal_mw.astype(np.float64)
    snr_db = 10.0 * np.log10(signal_mw / field.noise_mw)
    sir_db = 10.0 * np.log10(signal_mw / np.maximum(field.interf_mw.astype(np.float64).sum(axis=0), 1e-30))
    geometry = (np.stack([snr_db, np.minimum(sir_db, 60.0)]) / 10.0).astype(np.float32)

    # Links drawn as segments between node positions (the hub at the city centre, as the renderer).
    pos = {scenario.transport.hub: np.array([size / 2, size / 2])}
    for i, name in enumerate(comp.routing.sources):
        pos[name] = comp.node_xy[i].astype(np.float64)
    link_pixels = np.zeros((comp.n_links, g * g), dtype=np.float32)
    frac = np.linspace(0.0, 1.0, 4 * g)[:, None]
    for i, link in enumerate(scenario.transport.links):
        pts = pos[link.src][None] * (1.0 - frac) + pos[link.dst][None] * frac
        ij = np.clip((pts // pitch).astype(np.intp), 0, g - 1)
        link_pixels[i, ij[:, 1] * g + ij[:, 0]] = 1.0
    serve = field.serve.astype(np.intp)
    cells = tuple(np.flatnonzero(serve == c) for c in range(comp.n_cells))
    for arr in (static, geometry, zones, link_pixels, serve):
        arr.flags.writeable = False
    return FieldGeometry(
        comp=comp,
        grid=g,
        serve=serve,
        static=static,
        geometry=geometry,
        zone_users=zones,
        link_pixels=link_pixels,
        cell_pixels=cells,
    )


def _hops(route: F32) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
    """``(B, C, HOPS)`` links on each cell's path (by link index; padding repeats link 0) and a mask."""
    order = np.argsort(-route, axis=2, kind="stable")[:, :, :HOPS]  # links in use first
    used = np.take_along_axis(route, order, axis=2) > 0
    return np.where(used, order, 0), used


def _per_hop(per_link: F32, hops: NDArray[np.intp], used: NDArray[np.bool_], pad: float) -> F32:
    """``(B, HOPS * S, C)`` values of ``per_link (B, L, S)`` at each cell's hops (``pad`` where unused)."""
    batch, n_cells = hops.shape[:2]
    rows = np.arange(batch)[:, None, None]
    vals = per_link[rows, hops]  # (B, C, H, S)
    vals = np.where(used[..., None], vals, np.float32(pad))
    return vals.transpose(0, 2, 3, 1).reshape(batch, -1, n_cells)


def _log(x: F32) -> F32:
    return np.log(np.maximum(x, np.float32(LOG_FLOOR)))


def exo_channels(geom: FieldGeometry, drv: Drivers, geometry: bool = False) -> F32:
    """``(B, Cs, G, G)`` static and exogenous channels of ``B`` steps: ``STATIC_CHANNELS + EXO_CHANNELS``,
    with ``geometry`` (an any-city model's) ``GEOMETRY_CHANNELS`` between them."""
    comp, serve, g = geom.comp, geom.serve, geom.grid
    batch = drv.demand.shape[0]
    nominal = comp.nominal_capacity[None, :, None]
    density = np.log1p(drv.density / comp.base_density.mean())  # (B, X)
    log_demand = _log(drv.demand / nominal).transpose(0, 2, 1)[:, :, serve]  # (B, S, X)
    activity = drv.activity[:, serve]  # (B, X)
    shock = np.log1p(np.maximum(drv.density / comp.base_density - np.float32(1.0), np.float32(0.0)))  # surge
    avail_frac = drv.link_avail / comp.link_mbps  # (B, L)
    degradation = ((np.float32(1.0) - avail_frac)[:, :, None] * geom.link_pixels[None]).max(axis=1)
    # Offered load on every link (every cell's demand routed over it) over its available capacity.
    routed = drv.route * drv.reach[:, :, None]
    link_load = (
        np.einsum("bcl,bcs->bls", routed, drv.demand)
        / np.maximum(drv.link_avail, np.float32(1e-3) * comp.link_mbps)[:, :, None]
    )
    hops, used = _hops(drv.route)
    hop_load = _per_hop(_log(link_load), hops, used, np.log(LOG_FLOOR))[:, :, serve]  # (B, H*S, X)
    exo = np.concatenate(
        [density[:, None], log_demand, activity[:, None], shock[:, None], degradation[:, None], hop_load], axis=1
    )
    fixed = np.concatenate([geom.static, geom.geometry]) if geometry else geom.static
    static = np.broadcast_to(fixed[None], (batch, *fixed.shape))
    out = np.concatenate([static, exo], axis=1).astype(np.float32)
    return out.reshape(batch, -1, g, g)


def config_channels(geom: FieldGeometry, drv: Drivers, p: F32, b: F32) -> F32:
    """``(N, len(CONFIG_CHANNELS), G, G)`` channels of ``N`` candidates' shares ``p (N, C, S)``, ``b (N, L, S)``.

    ``drv`` has ``N`` rows or one (shared by every candidate): the hops follow the current routes.
    """
    g, n = geom.grid, p.shape[0]
    return config_cells(geom, drv, p, b)[:, :, geom.serve].reshape(n, -1, g, g)


def config_cells(geom: FieldGeometry, drv: Drivers, p: F32, b: F32) -> F32:
    """``(N, len(CONFIG_CHANNELS), C)``: the configuration channels per cell (every pixel takes its
    serving cell's value, so these are the channels before painting)."""
    n = p.shape[0]
    hops, used = _hops(np.broadcast_to(drv.route, (n, *drv.route.shape[1:])))
    prb = p.transpose(0, 2, 1)  # (N, S, C)
    return np.concatenate([prb, _log(prb), _per_hop(_log(b), hops, used, 0.0)], axis=1).astype(np.float32)


def field_features(geom: FieldGeometry, drv: Drivers, p: F32, b: F32) -> F32:
    """``(N, C, 12)`` field features (``FEATURES``) of ``N`` (step, candidate) pairs.

    ``drv`` has ``N`` rows or one (shared); ``p (N, C, S)`` and ``b (N, L, S)`` are projected shares.
    """
    comp = geom.comp
    n = p.shape[0]
    demand = np.broadcast_to(drv.demand, (n, *drv.demand.shape[1:]))  # (N, C, S) Mbps
    capacity = np.broadcast_to(drv.capacity, (n, comp.n_cells))  # (N, C)
    route = np.broadcast_to(drv.route, (n, *drv.route.shape[1:]))  # (N, C, L)
    reach = np.broadcast_to(drv.reach, (n, comp.n_cells))
    avail = np.broadcast_to(drv.link_avail, (n, comp.n_links))
    density = np.broadcast_to(drv.density, (n, drv.density.shape[1]))
    slice_cap = p * capacity[:, :, None]
    cap = slice_cap / np.float32(NOMINAL_CAPACITY_MBPS)
    load = pressure(demand, slice_cap)
    # Users of each cell inside the hospital and corridor zones (density-weighted pixel shares).
    member = comp.field.member  # (C, X)
    users = density @ member.T  # (N, C)
    hosp = (density * geom.zone_users[ZONES.index("hospital")]) @ member.T / users
    corr = (density * geom.zone_users[ZONES.index("corridor")]) @ member.T / users
    stress_h = hosp * load[:, :, 1]
    stress_c = corr * load[:, :, 0]
    # Transport: every cell's demand routed onto the links it crosses.
    link_demand = np.einsum("ncl,ncs->nls", route * reach[:, :, None], demand)  # (N, L, S)
    link_load = pressure(link_demand, b * avail[:, :, None])
    masked = np.where(route[..., None] > 0, link_load[:, None], np.float32(0.0))  # (N, C, L, S)
    worst = masked.max(axis=2)  # (N, C, S)
    worst[reach == 0] = 1.0
    sinr_cell = np.broadcast_to(drv.sinr_db, (n, comp.n_cells))
    pix_db = sinr_map(geom, drv)  # (B, X) with B in {1, N}
    p10 = np.stack([np.percentile(pix_db[:, idx], 10, axis=1) for idx in geom.cell_pixels], axis=1)
    p10 = np.broadcast_to(p10, (n, comp.n_cells))
    out = np.concatenate(
        [
            cap,
            load,
            stress_h[..., None],
            stress_c[..., None],
            worst[:, :, 1:2],
            worst.max(axis=2, keepdims=True),
            sinr_cell[..., None],
            p10[..., None],
        ],
        axis=2,
    )
    return out.astype(np.float32)


def sinr_map(geom: FieldGeometry, drv: Drivers) -> F32:
    """``(B, X)`` SINR of every pixel from its serving cell, dB, clipped to ``SINR_MAP_RANGE_DB``."""
    lin = sinr(geom.comp.field, drv.activity)
    return np.clip(np.float32(10.0) * np.log10(lin), *SINR_MAP_RANGE_DB).astype(np.float32)
