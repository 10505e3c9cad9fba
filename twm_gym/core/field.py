"""The propagation field: path loss + correlated shadowing + interference -> SINR -> capacity.

Static part (once per city, :func:`compile_field`): the received power of every cell at every pixel
``P[x, c] = P_tx - PL(d) + shadow_c(x)`` (mW), each pixel's serving cell (strongest received power)
and the interference gain matrix. Dynamic part (every slow step, :func:`cell_capacity`): with the
cells' activity factors ``eta[b, c]`` in [0, 1] (their offered load over nominal capacity),

    SINR[b, x] = S[x] / (N + sum_{c != serve(x)} eta[b, c] * P[x, c])
    SE[b, x]   = min(log2(1 + SINR / gap), SE_max)                       (bit/s/Hz)
    C[b, c]    = W * sum_{x in cell c} rho[b, x] SE[b, x] / sum_{x in cell c} rho[b, x]   (Mbps)

with ``W`` the bandwidth (MHz) and ``rho`` the user density. Activity depends on offered load only,
never on the action, so the field stays exogenous (paper eq. 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from twm_gym.core.geometry import pixel_centers
from twm_gym.core.params import CityParams

_THERMAL_DBM_PER_HZ = -174.0


@dataclass(frozen=True, eq=False)
class StaticField:
    """Arrays of the static propagation model. ``X = G*G`` pixels, ``C`` cells."""

    pixels: NDArray[np.float64]  # (X, 2) pixel centres, m
    serve: NDArray[np.int64]  # (X,) serving cell of each pixel
    signal_mw: NDArray[np.float32]  # (X,) received power of the serving cell, mW
    interf_mw: NDArray[np.float32]  # (C, X) received power of each non-serving cell, mW (0 if serving)
    noise_mw: float  # thermal noise over the carrier, mW
    member: NDArray[np.float32]  # (C, X) one-hot: 1 where cell c serves pixel x
    slots: NDArray[np.intp] | None  # (M, C) the pixels of each cell, padded with X; None below GATHER_CELLS
    gap: float  # Shannon gap, linear
    se_max: float  # bit/s/Hz
    bandwidth_mhz: float


def _shadowing(city: CityParams, n_cells: int) -> NDArray[np.float64]:
    """``(C, G, G)`` spatially correlated log-normal shadowing, dB (Gaussian-filtered white noise)."""
    radio, g = city.radio, city.grid
    if radio.shadowing_std_db == 0.0:
        return np.zeros((n_cells, g, g))
    rng = np.random.default_rng(radio.shadowing_seed)
    white = rng.standard_normal((n_cells, g, g))
    freq = np.fft.fftfreq(g, d=city.size_m / g)  # cycles per metre
    fy, fx = np.meshgrid(freq, freq, indexing="ij")
    sigma = radio.shadowing_corr_m
    kernel = np.exp(-2.0 * (np.pi * sigma) ** 2 * (fx**2 + fy**2))  # Gaussian filter in frequency
    smooth = np.real(np.fft.ifft2(np.fft.fft2(white) * kernel))
    smooth /= smooth.std(axis=(1, 2), keepdims=True) + 1e-12
    return radio.shadowing_std_db * smooth


def compile_field(city: CityParams) -> StaticField:
    """Build the static propagation arrays of a city."""
    radio = city.radio
    pixels = pixel_centers(city)
    cells = np.asarray(city.cell_xy, dtype=np.float64)
    n_cells = len(cells)
    dist_km = np.maximum(np.linalg.norm(pixels[:, None, :] - cells[None, :, :], axis=-1), radio.min_distance_m)
    dist_km /= 1000.0
    pathloss_db = radio.pathloss_intercept_db + radio.pathloss_slope_db * np.log10(dist_km)
    shadow = _shadowing(city, n_cells).reshape(n_cells, -1).T  # (X, C)
    rx_dbm = radio.tx_power_dbm - pathloss_db + shadow
    rx_mw = 10.0 ** (rx_dbm / 10.0)
    serve = np.argmax(rx_mw, axis=1)
    member = np.zeros_like(rx_mw)
    member[np.arange(len(pixels)), serve] = 1.0
    noise_dbm = _THERMAL_DBM_PER_HZ + 10.0 * np.log10(radio.bandwidth_mhz * 1e6) + radio.noise_figure_db
    slots = None
    if n_cells >= GATHER_CELLS:
        counts = np.bincount(serve, minlength=n_cells)
        slots = np.full((max(int(counts.max()), 1), n_cells), len(pixels), dtype=np.intp)
        for c in range(n_cells):
            mine = np.flatnonzero(serve == c)
            slots[: len(mine), c] = mine
    return StaticField(
        pixels=pixels,
        serve=serve,
        signal_mw=rx_mw[np.arange(len(pixels)), serve].astype(np.float32),
        interf_mw=np.ascontiguousarray((rx_mw * (1.0 - member)).T, dtype=np.float32),
        noise_mw=float(10.0 ** (noise_dbm / 10.0)),
        member=np.ascontiguousarray(member.T, dtype=np.float32),
        slots=slots,
        gap=float(10.0 ** (radio.shannon_gap_db / 10.0)),
        se_max=radio.se_max,
        bandwidth_mhz=radio.bandwidth_mhz,
    )


def _rowwise(x: NDArray[np.float32], w: NDArray[np.float32]) -> NDArray[np.float32]:
    """``x @ w`` with a summation order that does not depend on the number of rows.

    BLAS picks different kernels (hence different float32 summation orders) for one row and for
    many, which would make a rollout's last bits depend on its batch; numpy's own einsum loop
    sums in index order for every row. ``w`` must be C-contiguous (a strided ``w`` is ~8x slower).
    """
    return np.einsum("bi,ij->bj", x, w, optimize=False)


GATHER_CELLS = 32
"""From this many cells on, per-cell sums over pixels gather each cell's own pixels (cost ``B x X``)
instead of contracting with the one-hot membership (cost ``B x X x C``). Both sum in a fixed order
whatever the batch, so a rollout's bits never depend on its batch; the two orders differ in the
last bits, and smaller cities (the paper's among them) keep the contraction their published
numbers were made with."""


def _segment_sum(x: NDArray[np.float32], field: StaticField) -> NDArray[np.float32]:
    """``(B, C)`` sums of ``x (B, X)`` over each cell's pixels."""
    if field.slots is None:  # order as _rowwise
        return np.einsum("bi,ji->bj", x, field.member, optimize=False)
    padded = np.concatenate([x, np.zeros((x.shape[0], 1), dtype=x.dtype)], axis=1)
    out = padded[:, field.slots[0]]
    for row in field.slots[1:]:
        out += padded[:, row]
    return out


def sinr(field: StaticField, activity: NDArray[np.float32]) -> NDArray[np.float32]:
    """``(B, X)`` linear SINR of each pixel given the cells' activity ``(B, C)`` in [0, 1]."""
    interference = _rowwise(activity, field.interf_mw)  # (B, X) mW
    interference += np.float32(field.noise_mw)
    return field.signal_mw / interference


def cell_capacity(
    field: StaticField, activity: NDArray[np.float32], density: NDArray[np.float32]
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Per-cell capacity (Mbps) and effective SINR (dB), both ``(B, C)``.

    The effective SINR is ``gap * (2**SE - 1)`` for the cell's user-weighted mean spectral
    efficiency ``SE`` (capped SE saturates it near ``gap * (2**SE_max - 1)``).

    Args:
        field: static arrays of the city.
        activity: ``(B, C)`` interference activity factors in [0, 1].
        density: ``(B, X)`` user density per pixel (relative units, > 0).
    """
    lin = sinr(field, activity)
    se = np.log2(np.float32(1.0) + lin / np.float32(field.gap))
    np.minimum(se, np.float32(field.se_max), out=se)
    weight = _segment_sum(density, field)  # (B, C) users per cell
    se *= density
    mean_se = _segment_sum(se, field) / weight  # bit/s/Hz
    cap = mean_se * np.float32(field.bandwidth_mhz)
    # Effective SINR: the SINR whose Shannon rate is the cell's mean spectral efficiency.
    sinr_db = np.float32(10.0) * np.log10(np.float32(field.gap) * (np.exp2(mean_se) - np.float32(1.0)) + 1e-12)
    return cap.astype(np.float32, copy=False), sinr_db.astype(np.float32, copy=False)
