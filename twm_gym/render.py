"""Rendering of a running episode: a city map (``rgb_array``), a KPI table (``ansi``) and a window
(``human``), the same three modes for every env.

matplotlib is imported inside the drawing functions only (the ``render`` code path), so the core
and the environments import without it. ``human`` draws the ``rgb_array`` frame in a matplotlib
window; where matplotlib has no interactive backend (no display: a server, CI) it prints the
``ansi`` text to standard output instead and warns once.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twm_gym.core.egw import nominal_drivers
from twm_gym.core.field import sinr
from twm_gym.core.kpi import StepKPIs
from twm_gym.core.params import SLICES
from twm_gym.core.sim import Simulation
from twm_gym.core.state import Drivers

_ZONE_COLOURS = {"hospital": "tab:red", "fwa": "tab:green", "corridor": "tab:purple"}

RENDER_MODES = ["rgb_array", "ansi", "human"]
"""The render modes of every ``TWM/*`` env (single, vector, Field and PettingZoo)."""


def check_render_mode(render_mode: str | None) -> str | None:
    """``render_mode`` itself, or ``ValueError`` naming the valid modes."""
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise ValueError(f"render_mode {render_mode!r} is not one of {RENDER_MODES} or None")
    return render_mode


class HumanWindow:
    """The ``human`` render mode: one matplotlib window per env, updated in place at ``fps``.

    Without an interactive matplotlib backend the text of each frame goes to standard output
    (the documented fallback), after one line saying why.
    """

    def __init__(self, title: str, fps: float = 2.0) -> None:
        self.title, self.fps = title, fps
        self._figure: Any = None
        self._image: Any = None
        self._told = False

    def show(self, frame: Callable[[], NDArray[np.uint8]], text: Callable[[], str]) -> None:
        """Draw ``frame()`` in the window, or print ``text()`` where no window can open."""
        import matplotlib

        backend = matplotlib.get_backend().lower()
        if backend in _non_interactive_backends():
            if not self._told:
                sys.stdout.write(
                    f"[{self.title}] render_mode='human': matplotlib's backend {backend!r} opens no window "
                    "(no display); frames are printed as text\n"
                )
                self._told = True
            sys.stdout.write(text())
            return
        import matplotlib.pyplot as plt

        image = frame()
        if self._figure is None or not plt.fignum_exists(self._figure.number):
            self._figure = plt.figure(self.title)
            ax = self._figure.add_axes((0, 0, 1, 1))
            ax.set_axis_off()
            self._image = ax.imshow(image)
        else:
            self._image.set_data(image)
        self._figure.canvas.draw_idle()
        plt.pause(1.0 / self.fps)

    def close(self) -> None:
        if self._figure is not None:
            import matplotlib.pyplot as plt

            plt.close(self._figure)
            self._figure = self._image = None


def ansi(sim: Simulation, last: StepKPIs | None, row: int = 0) -> str:
    """A compact text table: step, the last step's KPIs and the episode's so far."""
    sc = sim.scenario
    lines = [f"{sc.name}  step {sim.t}/{sc.horizon}"]
    if last is None:
        lines.append("  (no step taken yet)")
        return "\n".join(lines) + "\n"
    ep = sim.kpis()
    lines.append(f"  {'':<12}{'step':>9}{'episode':>9}")
    for s, name in enumerate(SLICES):
        lines.append(f"  loss {name:<7}{last.loss[row, s]:>9.3f}{ep.loss[row, s]:>9.3f}")
    lines.append(f"  {'d99 ms':<12}{last.d99_ms[row]:>9.1f}{ep.d99_ms[row]:>9.1f}")
    lines.append(f"  {'SCM':<12}{last.scm[row]:>9.3f}{ep.scm[row]:>9.3f}")
    lines.append(f"  {'cost':<12}{last.cost[row]:>9.3f}{ep.cost[row]:>9.3f}")
    lines.append(f"  {'violation':<12}{last.global_violation[row]!s:>9}{ep.global_violation[row]!s:>9}")
    return "\n".join(lines) + "\n"


def _node_positions(sim: Simulation) -> dict[str, NDArray[np.float64]]:
    comp = sim.comp
    size = sim.scenario.city.size_m
    pos = {sim.scenario.transport.hub: np.array([size / 2, size / 2])}  # the hub is drawn schematically
    for i, name in enumerate(comp.routing.sources):
        pos[name] = comp.node_xy[i].astype(np.float64)
    return pos


def rgb_array(sim: Simulation, drivers: Drivers | None, row: int = 0, dpi: int = 80) -> NDArray[np.uint8]:
    """``(H, W, 3)`` uint8 map of row ``row``: SINR field, zones, cells by load, links (failed: dashed red)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import Circle
    except ImportError as exc:  # pragma: no cover - matplotlib is a dependency of the package
        raise ImportError("rgb_array rendering needs matplotlib: pip install matplotlib") from exc

    comp, sc = sim.comp, sim.scenario
    city = sc.city
    drv = drivers if drivers is not None else nominal_drivers(comp)
    g, size = city.grid, city.size_m
    field_db = 10.0 * np.log10(sinr(comp.field, drv.activity[row : row + 1])[0] + 1e-12).reshape(g, g)
    fig = Figure(figsize=(5.6, 5.0), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    im = ax.imshow(field_db, origin="lower", extent=(0, size, 0, size), cmap="viridis", vmin=-10, vmax=30)
    fig.colorbar(im, ax=ax, label="SINR (dB)", fraction=0.046, pad=0.03)
    box = ax.get_position()
    points_per_m = box.width * fig.get_figwidth() * 72.0 / size  # capsule width in line points
    for zone in city.zones:
        colour = _ZONE_COLOURS.get(zone.name, "white")
        for cap in zone.capsules:
            ax.plot(
                [cap.x0, cap.x1],
                [cap.y0, cap.y1],
                color=colour,
                lw=2 * cap.radius * points_per_m,
                alpha=0.35,
                solid_capstyle="round",
                zorder=2,
            )
        ax.plot([], [], color=colour, lw=6, alpha=0.5, label=f"{zone.name} zone")
    pos = _node_positions(sim)
    for i, link in enumerate(sc.transport.links):
        a, b = pos[link.src], pos[link.dst]
        up = bool(drv.link_up[row, i])
        ax.plot(
            [a[0], b[0]],
            [a[1], b[1]],
            color="white" if up else "red",
            lw=1.5 if up else 2.5,
            ls="-" if up else "--",
            zorder=3,
        )
    hub = pos[sc.transport.hub]
    ax.scatter([hub[0]], [hub[1]], marker="s", s=70, color="white", edgecolor="black", zorder=4)
    load = sim.csw.q_radio[row].sum(axis=1) if sim.t else np.zeros(comp.n_cells)
    offered = drv.demand[row].sum(axis=1) / np.maximum(drv.capacity[row], 1e-9)  # offered load / capacity
    for c, (x, y) in enumerate(city.cell_xy):
        ax.add_patch(Circle((x, y), 45, color=_load_colour(float(offered[c])), ec="black", zorder=5))
        ax.annotate(str(c), (x, y), color="black", ha="center", va="center", fontsize=7, zorder=6)
    ax.set_xlim(0, size)
    ax.set_ylim(0, size)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    shock = _shock_text(sim, row)
    ax.set_title(f"{sc.name}  step {sim.t}/{sc.horizon}{shock}  backlog {float(load.sum()):.1f} Mbit", fontsize=9)
    ax.plot([], [], color="red", ls="--", lw=2.5, label="failed link")
    ax.scatter([], [], color=_load_colour(0.5), ec="black", label="cell (colour: load / capacity)")
    ax.legend(loc="lower left", fontsize=6, framealpha=0.7)
    canvas.draw()  # type: ignore[no-untyped-call]
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()  # type: ignore[no-untyped-call]


def _load_colour(load: float) -> Any:
    from matplotlib import colormaps

    return colormaps["YlOrRd"](0.1 + 0.9 * min(max(load, 0.0), 1.0))


def _shock_text(sim: Simulation, row: int) -> str:
    names = ["hotspot", "wave"] + [f"event {i}" for i in range(len(sim.egw.ev_left[row]) - 2)]
    parts = [name for name, left in zip(names, sim.egw.ev_left[row], strict=True) if left > 0]
    return f"  [{', '.join(parts)}]" if parts else ""


def _non_interactive_backends() -> set[str]:
    try:  # matplotlib >= 3.9
        from matplotlib.backends import BackendFilter, backend_registry  # type: ignore[attr-defined]

        names = backend_registry.list_builtin(BackendFilter.NON_INTERACTIVE)  # type: ignore[no-untyped-call]
    except ImportError:
        from matplotlib.rcsetup import non_interactive_bk as names  # type: ignore[attr-defined,no-redef]
    return {name.lower() for name in names}


def render_episode(
    mode: str, sim: Simulation, drivers: Drivers | None, last: StepKPIs | None, window: HumanWindow
) -> Any:
    """``render()`` of the slicing envs: the frame of ``mode`` for row 0 (``None`` for ``human``)."""
    if mode == "ansi":
        return ansi(sim, last)
    if mode == "rgb_array":
        return rgb_array(sim, drivers)
    window.show(lambda: rgb_array(sim, drivers), lambda: ansi(sim, last))
    return None


def field_ansi(name: str, t: int, horizon: int, obs: dict[str, NDArray[np.float32]]) -> str:
    """The Field env's text frame: step, shocks, links down, mean demand and SINR."""
    hot, wave = obs["egw_hotspot"], obs["egw_wave"]
    shocks = [n for n, v in (("hotspot", hot), ("wave", wave)) if v[0] > 0] or ["none"]
    down = np.flatnonzero(obs["egw_link_up"] < 0.5).tolist()
    lines = [
        f"{name}  step {t}/{horizon}",
        f"  shocks        {', '.join(shocks)}",
        f"  links down    {down if down else 'none'}",
        f"  demand        {float(obs['egw_demand'].mean()):.3f} (mean, / nominal capacity)",
        f"  SINR          {float(obs['egw_sinr_db'].mean()):.1f} dB (mean over cells)",
    ]
    return "\n".join(lines) + "\n"


def field_rgb_array(title: str, grid: int, obs: dict[str, NDArray[np.float32]], dpi: int = 80) -> NDArray[np.uint8]:
    """The Field env's frame: its two per-pixel maps (user density, SINR) side by side."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 3.6), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    maps = (
        ("egw_density_map", "user density / base", "magma"),
        ("egw_sinr_map", "SINR (dB)", "viridis"),
    )
    for k, (key, label, cmap) in enumerate(maps):
        ax = fig.add_subplot(1, 2, k + 1)
        im = ax.imshow(obs[key].reshape(grid, grid), origin="lower", cmap=cmap)
        fig.colorbar(im, ax=ax, label=label, fraction=0.046, pad=0.03)
        ax.set_axis_off()
    fig.suptitle(title, fontsize=9)
    canvas.draw()  # type: ignore[no-untyped-call]
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()  # type: ignore[no-untyped-call]
