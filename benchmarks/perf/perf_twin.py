"""Throughput of the batched twin: full-horizon rollouts per second and peak memory.

    python benchmarks/perf/perf_twin.py [--scenario hotspot-id] [--repeats 5]
    python benchmarks/perf/perf_twin.py --cells 10 50 200 [--batch 256] [--json docs/data/twin_sizes.json]
    python benchmarks/perf/perf_twin.py --table docs/data/twin_sizes.json

Each batch uses distinct seeds (the worst case: no exogenous draws are shared) and the uniform
policy; a second line per size uses 16 distinct seeds shared by the batch (the planners' and
DT-fair's pattern, where exogenous draws are computed once per seed). Reports the best and median
of ``--repeats`` runs (this machine is noisy: compare within one run) and the peak traced memory.
Also prints where the time of one B = 1024 call goes, by stage.

``--cells`` measures generated cities of those sizes instead (``twm_gym.scenarios.generator``:
seed 0, random layout, hub-and-spoke transport, the hotspot family's ID scenario): B rollouts with
distinct seeds per call, the rate, the peak memory, and the time per rollout against the size
``cells x links`` relative to the smallest city, and where the time of the largest goes; ``--json``
writes that table's numbers (with the machine's CPU count), ``--table`` prints a written one.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

from twm_gym.core import simulate
from twm_gym.core.blas import single_threaded_blas
from twm_gym.core.compiled import compile_scenario
from twm_gym.core.csw import csw_step, initial_csw, record_step
from twm_gym.core.egw import initial_egw, roll
from twm_gym.core.kpi import episode_kpis
from twm_gym.core.params import Scenario
from twm_gym.core.rng import seed_keys
from twm_gym.core.sim import empty_ledger
from twm_gym.scenarios import load_scenario, scenario_from_dict
from twm_gym.scenarios.generator import generate


def _rate(scenario: str | Scenario, batch: int, repeats: int, shared: bool) -> tuple[float, float, float]:
    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    p = np.full((sc.horizon, len(sc.city.cell_xy), 3), 1 / 3, dtype=np.float32)
    b = np.full((sc.horizon, len(sc.transport.links), 3), 1 / 3, dtype=np.float32)
    times = []
    for r in range(repeats + 1):
        seeds = (np.arange(batch) % 16 if shared else np.arange(batch)) + r * 1_000_003
        start = time.perf_counter()
        simulate(sc, p, b, seeds)
        if r:  # the first run warms caches (routing patterns, compiled arrays)
            times.append(time.perf_counter() - start)
    tracemalloc.start()
    simulate(sc, p, b, np.arange(batch))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return batch / min(times), batch / float(np.median(times)), peak / 2**20


def _stages(scenario: str | Scenario, batch: int = 1024) -> dict[str, float]:
    """Seconds per stage of one serial B-row rollout (exogenous roll, controllable steps, KPIs)."""
    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    comp = compile_scenario(sc)
    keys = seed_keys(np.arange(batch))
    csw, ledger = initial_csw(comp, batch), empty_ledger(sc, batch)
    p = np.full((batch, comp.n_cells, 3), 1 / 3, dtype=np.float32)
    b = np.full((batch, comp.n_links, 3), 1 / 3, dtype=np.float32)
    cost = np.ones(batch, dtype=np.float32)
    t0 = time.perf_counter()
    path = roll(comp, initial_egw(comp, batch), keys, 0, sc.horizon)
    out = {"exogenous (roll, all steps)": time.perf_counter() - t0, "controllable (15 sub-steps)": 0.0}
    for t in range(sc.horizon):
        t1 = time.perf_counter()
        csw, res = csw_step(comp, csw, path.at(t), p, b, cost)
        out["controllable (15 sub-steps)"] += time.perf_counter() - t1
        record_step(ledger, res, t)
    t0 = time.perf_counter()
    episode_kpis(sc, ledger, sc.horizon)
    out["kpis (d99 percentile)"] = time.perf_counter() - t0
    return out


def _by_size(cells: list[int], batch: int, repeats: int) -> list[dict[str, float]]:
    print(f"generated cities (seed 0, random, hub-and-spoke, hotspot ID); B = {batch} distinct seeds a call")
    print(
        f"{'cells':>6} {'links':>6} {'grid':>5} {'best/s':>9} {'median/s':>9} {'peak MiB':>9} "
        f"{'ms/rollout':>11} {'/ (C x L)':>10}"
    )
    base = None
    sizes, rows = [], []
    for n in cells:
        sc = scenario_from_dict(generate(0, n, "random", "hub-and-spoke", ("hotspot",))[0])
        best, med, peak = _rate(sc, batch, repeats, shared=False)
        per = 1e3 / best
        size = sc.n_cells * sc.n_links
        base = base or per / size
        sizes.append(sc)
        print(
            f"{sc.n_cells:>6} {sc.n_links:>6} {sc.city.grid:>5} {best:>9,.0f} {med:>9,.0f} {peak:>9.1f} "
            f"{per:>11.2f} {per / size / base:>10.2f}"
        )
        rows.append(
            {
                "cells": sc.n_cells,
                "links": sc.n_links,
                "grid": sc.city.grid,
                "best_per_s": best,
                "median_per_s": med,
                "peak_mib": peak,
                "relative_cost": per / size / base,
            }
        )
    with single_threaded_blas():
        _stages(sizes[-1], batch)
        stages = _stages(sizes[-1], batch)
    total = sum(stages.values())
    print(f"\nwhere one serial B = {batch} rollout of the {sizes[-1].n_cells}-cell city goes:")
    for name, sec in stages.items():
        print(f"  {name:<30} {sec * 1e3:7.1f} ms  {sec / total:5.0%}")
    return rows


def size_table(record: dict[str, Any]) -> str:
    """Markdown of a ``--cells ... --json`` record: throughput and memory by city size."""
    lines = [
        "| cells | links | field grid | rollouts/s (best / median) | peak MiB | ms per rollout / (cells × links), "
        "relative to the smallest |",
        "|---|---|---|---|---|---|",
    ]
    for r in record["rows"]:
        lines.append(
            f"| {r['cells']} | {r['links']} | {r['grid']} × {r['grid']} | {r['best_per_s']:,.0f} / "
            f"{r['median_per_s']:,.0f} | {r['peak_mib']:.1f} | {r['relative_cost']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Batched-twin throughput.")
    parser.add_argument("--scenario", default="hotspot-id")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cells", type=int, nargs="+", help="measure generated cities of these sizes instead")
    parser.add_argument("--batch", type=int, default=256, help="rollouts per call with --cells (default 256)")
    parser.add_argument("--json", type=Path, help="with --cells: write the table's numbers here")
    parser.add_argument("--table", type=Path, help="print the markdown table of a --cells --json record; run nothing")
    args = parser.parse_args()
    if args.table:
        print(size_table(json.loads(args.table.read_text())))
        return
    if args.cells:
        rows = _by_size(args.cells, args.batch, args.repeats)
        if args.json:
            record = {"batch": args.batch, "repeats": args.repeats, "cpus": os.cpu_count(), "rows": rows}
            args.json.write_text(json.dumps(record, indent=1) + "\n")
        return
    print(f"scenario {args.scenario}; uniform policy; {args.repeats} timed repeats after one warm-up")
    print(f"{'B':>6} {'seeds':>9} {'best/s':>9} {'median/s':>9} {'peak MiB':>9}")
    for batch in (1, 64, 1024, 4096):
        for shared in (False, True):
            if shared and batch <= 16:
                continue
            best, med, peak = _rate(args.scenario, batch, args.repeats, shared)
            label = "16 shared" if shared else "distinct"
            print(f"{batch:>6} {label:>9} {best:>9,.0f} {med:>9,.0f} {peak:>9.1f}")
    with single_threaded_blas():  # as inside simulate()
        _stages(args.scenario)  # warm-up
        stages = _stages(args.scenario)
    total = sum(stages.values())
    print("\nwhere one serial B = 1024 rollout's time goes (one thread, single-threaded BLAS):")
    for name, sec in stages.items():
        print(f"  {name:<30} {sec * 1e3:7.1f} ms  {sec / total:5.0%}")


if __name__ == "__main__":
    main()
