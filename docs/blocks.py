"""The generated blocks of the docs: every table of measured numbers, rebuilt from the shipped records.

    python docs/blocks.py            # rewrite every block from docs/data
    python docs/blocks.py --check    # exit 1, naming the page and block, if a page differs

A block is the text between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` in any page under
``docs/`` or the README; :data:`BLOCKS` says which command renders ``NAME`` and from which shipped
record (``docs/data/``). The records themselves are written by the commands that measure them
(``twm-bench run`` then a study script's ``--csv``, ``twm-bench leaderboard``, ``twm-bench axis``);
each page says which. The test suite runs ``--check``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "docs" / "data"
for _folder in ("studies", "perf"):  # the study and perf scripts render their own tables
    if str(ROOT / "benchmarks" / _folder) not in sys.path:
        sys.path.insert(0, str(ROOT / "benchmarks" / _folder))


def _generalization() -> str:
    from generalization_table import markdown, read_csv

    return markdown(read_csv(DATA / "generalization.csv"))


def _layers() -> str:
    from layers_table import markdown, read_csv

    return markdown(read_csv(DATA / "layers.csv"))


def _intents() -> str:
    from intents_table import markdown, read_csv

    return markdown(read_csv(DATA / "intents_kinds.csv"))


def _learning_curves() -> str:
    from learning_curves import read_csv, table

    return table(*read_csv(DATA / "learning_curves.csv"))


def _leaderboard() -> str:
    from twm_bench import leaderboard

    return leaderboard.markdown(leaderboard.load(DATA / "leaderboard.json"))


def _paper() -> str:
    from generalization_table import read_csv
    from paper_table import markdown

    return markdown(read_csv(DATA / "paper.csv"))


RL_AGENTS = ("ppo", "ippo", "uniform", "random", "twm", "twm-raw", "cdwm-only", "oracle")


def _rl_paper() -> str:
    from generalization_table import read_csv
    from paper_table import per_scenario

    return per_scenario(read_csv(DATA / "paper.csv"), list(RL_AGENTS))


def _field_axis() -> str:
    from twm_bench import field_axis

    return field_axis.format_table(json.loads((DATA / "field_axis_sets.json").read_text()))


def _trajectory_axis_default() -> str:
    from twm_bench import trajectory_axis

    return trajectory_axis.format_table(json.loads((DATA / "trajectory_axis_default.json").read_text()))


def _trajectory_axis_sets() -> str:
    from twm_bench import trajectory_axis

    return trajectory_axis.format_table(json.loads((DATA / "trajectory_axis_sets.json").read_text()))


def _trajectory_axis() -> str:
    from twm_bench import trajectory_axis

    record = json.loads((DATA / "trajectory_axis_sets_fields.json").read_text())
    return trajectory_axis.format_table(record, by_scenario=False)


def _agent_protocol() -> str:
    import inspect

    from twm_agents import base

    parts = [inspect.cleandoc(base.__doc__ or "")]
    for cls in (base.ScenarioCard, base.EpisodeContext, base.Agent):
        parts.append(f"### `{cls.__name__}`\n\n" + inspect.cleandoc(cls.__doc__ or ""))
    for name in ("prepare", "reset", "act", "metrics", "play_candidate"):
        method = getattr(base.Agent, name)
        signature = str(inspect.signature(method)).replace("'", "")
        parts.append(f"#### `Agent.{name}{signature}`\n\n" + inspect.cleandoc(method.__doc__ or ""))
    return "\n\n".join(parts)


def _python(code: str) -> str:
    return f"```python\n{code.strip()}\n```"


def _example_agent() -> str:
    return _python((ROOT / "examples" / "urllc_headroom.py").read_text())


def _stadium_family() -> str:
    text = (ROOT / "examples" / "stadium_family.py").read_text()
    return _python(text[text.index("import json") :])  # the code, not its module docstring


def _wider_intervals() -> str:
    text = (ROOT / "examples" / "wider_intervals.py").read_text()
    return _python(text[text.index("from __future__") :])


def _checkpoint(kind: str, name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((ROOT / "agents" / "twm_agents" / kind / "checkpoints" / f"{name}.json").read_text())


def _fwm_default() -> str:
    from twm_bench import field_axis

    meta = _checkpoint("fwm", "default")
    cfg, metrics = meta["config"], meta["metrics"]
    splits = {
        "id": {**metrics["test"], "scenarios": cfg["scenarios"]},
        "ood": {**metrics["ood"], "scenarios": cfg["ood_scenarios"]},
    }
    return field_axis.format_table({"checkpoint": "default", "seeds": cfg["test_seeds"], "splits": splits})


def _cdwm_fields() -> str:
    rows = [("sets-csw", "controllable world alone"), ("sets-fields", "and the FWM's fields")]
    lines = [
        "| checkpoint | CRPS ID | CRPS OOD | step RMSE OOD | violation Brier OOD | 90 % coverage OOD |",
        "|---|---|---|---|---|---|",
    ]
    for name, what in rows:
        m = _checkpoint("cdwm", name)["metrics"]
        cells = [m["id"]["crps"], m["ood"]["crps"], m["ood"]["step_rmse"], m["ood"]["brier"], m["ood"]["picp"]]
        lines.append(f"| `{name}` ({what}) | " + " | ".join(f"{v:.3f}" for v in cells) + " |")
    return "\n".join(lines)


def _prescreen() -> str:
    from perf_prescreen import table

    return table(json.loads((DATA / "prescreen.json").read_text()))


def _twin_sizes() -> str:
    from perf_twin import size_table

    return size_table(json.loads((DATA / "twin_sizes.json").read_text()))


def _llm_agreement() -> str:
    from twm_agents.llm.intents import report_table

    return report_table(json.loads((DATA / "agreement_smollm2.json").read_text()))


def _llm_compiler() -> str:
    from twm_agents.llm.intents import report_table

    return report_table(json.loads((DATA / "compiler_embedded.json").read_text()))


def _cli() -> str:
    from twm_bench.cli import reference

    return reference()


BLOCKS: dict[str, tuple[str, Callable[[], str]]] = {
    "generalization": (
        "python benchmarks/studies/generalization_table.py --table docs/data/generalization.csv",
        _generalization,
    ),
    "layers": ("python benchmarks/studies/layers_table.py --table docs/data/layers.csv", _layers),
    "intents": ("python benchmarks/studies/intents_table.py --table docs/data/intents_kinds.csv", _intents),
    "learning_curves": (
        "python benchmarks/studies/learning_curves.py --table docs/data/learning_curves.csv",
        _learning_curves,
    ),
    "leaderboard": ("twm-bench leaderboard --table docs/data/leaderboard.json", _leaderboard),
    "paper": ("python benchmarks/studies/paper_table.py --table docs/data/paper.csv", _paper),
    "rl_paper": (
        "python benchmarks/studies/paper_table.py --table docs/data/paper.csv --per-scenario " + " ".join(RL_AGENTS),
        _rl_paper,
    ),
    "field_axis": ("twm-bench axis field (record: docs/data/field_axis_sets.json)", _field_axis),
    "trajectory_axis": (
        "twm-bench axis trajectory (record: docs/data/trajectory_axis_sets_fields.json)",
        _trajectory_axis,
    ),
    "trajectory_axis_default": (
        "twm-bench axis trajectory (record: docs/data/trajectory_axis_default.json)",
        _trajectory_axis_default,
    ),
    "trajectory_axis_sets": (
        "twm-bench axis trajectory --checkpoint sets (record: docs/data/trajectory_axis_sets.json)",
        _trajectory_axis_sets,
    ),
    "cli": ("twm-bench --help, every subcommand", _cli),
    "example_agent": ("examples/urllc_headroom.py", _example_agent),
    "stadium_family": ("examples/stadium_family.py", _stadium_family),
    "wider_intervals": ("examples/wider_intervals.py", _wider_intervals),
    "fwm_default": ("the metrics of agents/twm_agents/fwm/checkpoints/default.json", _fwm_default),
    "cdwm_fields": ("the metrics of agents/twm_agents/cdwm/checkpoints/sets-{csw,fields}.json", _cdwm_fields),
    "prescreen": ("python benchmarks/perf/perf_prescreen.py --table docs/data/prescreen.json", _prescreen),
    "twin_sizes": ("python benchmarks/perf/perf_twin.py --table docs/data/twin_sizes.json", _twin_sizes),
    "llm_compiler": ("python -m twm_agents.llm.intents --table docs/data/compiler_embedded.json", _llm_compiler),
    "llm_agreement": ("python -m twm_agents.llm.intents --table docs/data/agreement_smollm2.json", _llm_agreement),
    "agent_protocol": ("the docstrings of agents/twm_agents/base.py", _agent_protocol),
}
"""Block name -> (the command that prints it, its renderer)."""

_BLOCK = re.compile(r"<!-- (?P<name>[a-z_]+):begin -->(?P<body>.*?)<!-- (?P=name):end -->", re.S)


def pages() -> list[Path]:
    """Every page that may hold blocks: the README and the docs."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def render(text: str, rendered: dict[str, str], where: str = "") -> tuple[str, list[str]]:
    """``text`` with every block replaced by its rendering, and the names of the blocks that changed.
    An unknown block name raises ``KeyError`` naming the valid ones."""
    changed: list[str] = []

    def swap(m: re.Match[str]) -> str:
        name = m["name"]
        if name not in BLOCKS:
            raise KeyError(f"{where}: block {name!r} is not one of {sorted(BLOCKS)}")
        if name not in rendered:
            rendered[name] = BLOCKS[name][1]().strip()
        if m["body"].strip() != rendered[name]:
            changed.append(name)
        return f"<!-- {name}:begin -->\n{rendered[name]}\n<!-- {name}:end -->"

    return _BLOCK.sub(swap, text), changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a block differs from what its command prints")
    args = parser.parse_args(argv)
    rendered: dict[str, str] = {}
    stale = []
    for page in pages():
        text = page.read_text()
        new, changed = render(text, rendered, str(page.relative_to(ROOT)))
        for name in changed:
            stale.append(f"{page.relative_to(ROOT)}: block {name!r} (from: {BLOCKS[name][0]})")
        if changed and not args.check:
            page.write_text(new)
    if stale and args.check:
        print("out of date (run python docs/blocks.py):", *stale, sep="\n  ")
        return 1
    for line in stale:
        print("rewrote", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
