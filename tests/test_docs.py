"""The docs: generated blocks equal what their commands print from the shipped records, every page
is reachable from the README, every relative link resolves, and no page speaks of how it was made."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _blocks():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("docs_blocks", ROOT / "docs" / "blocks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _slug(heading: str) -> str:
    """GitHub's anchor of a markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {_slug(m) for m in re.findall(r"^#+ (.+)$", text, flags=re.M)}


def _fragments(page: Path) -> list[tuple[Path, str]]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    text = re.sub(r"`[^`]*`", "", text)
    out = []
    for target in _LINK.findall(text):
        path, _, fragment = target.partition("#")
        if fragment and not re.match(r"^[a-z]+:", target):
            out.append(((page.parent / path).resolve() if path else page, fragment))
    return out


def _targets(page: Path) -> list[Path]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # code is not a link
    text = re.sub(r"`[^`]*`", "", text)
    out = []
    for target in _LINK.findall(text):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        out.append((page.parent / target.partition("#")[0]).resolve())
    return out


def test_every_generated_block_is_what_its_command_prints(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = _blocks()
    assert blocks.main(["--check"]) == 0, capsys.readouterr().out
    used = {m for page in _pages() for m in re.findall(r"<!-- ([a-z_]+):begin -->", page.read_text())}
    assert used == set(blocks.BLOCKS), f"blocks defined but shown nowhere: {set(blocks.BLOCKS) - used}"


def test_a_changed_number_in_a_block_fails_the_check() -> None:
    blocks = _blocks()
    page = (ROOT / "docs" / "explanation" / "findings.md").read_text()
    begin = page.index("<!-- layers:begin -->")
    digit = re.compile(r"\d").search(page, begin + len("<!-- layers:begin -->"))
    assert digit is not None
    changed = page[: digit.start()] + str((int(digit.group()) + 1) % 10) + page[digit.end() :]
    assert blocks.render(page, {})[1] == []
    fixed, stale = blocks.render(changed, {})
    assert stale == ["layers"] and fixed == page  # the check names it; a rewrite restores it


def test_every_page_is_reachable_from_the_readme_and_every_link_resolves() -> None:
    seen, todo, broken = set(), [ROOT / "README.md"], []
    while todo:
        page = todo.pop()
        if page in seen:
            continue
        seen.add(page)
        for target in _targets(page):
            if not target.exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
            elif target.is_dir():  # a folder link: its pages
                todo.extend(sorted(target.glob("*.md")))
            elif target.suffix == ".md":
                todo.append(target)
    assert not broken, broken
    bad_anchors = [
        f"{page.relative_to(ROOT)} -> {target.name}#{fragment}"
        for page in _pages()
        for target, fragment in _fragments(page)
        if target.suffix == ".md" and fragment not in _anchors(target)
    ]
    assert not bad_anchors, bad_anchors
    unreachable = [str(p.relative_to(ROOT)) for p in _pages() if p not in seen]
    assert not unreachable, unreachable


@pytest.mark.parametrize(
    "pattern",
    [r"\bissues? #?\d", r"\btracker\b", r"\bsessions?\b", r"\bthis stop\b", r"\btuning rounds?\b", r"\bround \d\b"],
)
def test_no_page_speaks_of_how_the_project_was_built(pattern: str) -> None:
    hits = [
        f"{p.relative_to(ROOT)}: {line.strip()[:80]}"
        for p in _pages()
        for line in p.read_text().splitlines()
        if re.search(pattern, line, re.I)
    ]
    assert not hits, hits
