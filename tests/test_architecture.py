"""The layout shows the architecture (see ARCHITECTURE.md): layers, no cycles, small modules.

* import-linter contracts in ``pyproject.toml``: web | cli → domain → pipeline | store →
  signing, and ``signing`` imports nothing from ``service``;
* no import cycle between any two modules (type-checking-only imports aside);
* no module in ``service/`` or ``signing/`` over 600 lines;
* no two module names in one package within edit distance 1 (``model``/``models``).
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("service", "signing")
MAX_LINES = 600


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_import_linter_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the graph is small but recursion depth is not ours)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = itertools.count()
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = next(counter)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = next(counter)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    result.append(component)
    return result


def test_no_import_cycles() -> None:
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True, cache_dir=None)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    # a package's __init__ importing its own submodules is not a cycle between concerns
    for module, targets in edges.items():
        targets.discard(module)
    cycles = [sorted(c) for c in _strongly_connected(edges) if len(c) > 1]
    assert cycles == [], f"import cycles: {cycles}"


def test_the_cycle_detector_finds_a_cycle() -> None:
    components = _strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert sorted(map(sorted, components)) == [["a", "b", "c"], ["d"]]
    assert sorted(map(sorted, _strongly_connected({"a": {"b"}, "b": {"a"}}))) == [["a", "b"]]


def test_no_module_over_the_line_limit() -> None:
    too_long = {
        str(p.relative_to(ROOT)): n
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert too_long == {}, f"modules over {MAX_LINES} lines: {too_long}"


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def test_no_two_module_names_in_a_package_differ_by_one_letter() -> None:
    assert _edit_distance("model", "models") == 1
    clashes = []
    directories = {p.parent for p in _modules()}
    for directory in sorted(directories):
        names = sorted(
            {p.stem for p in directory.glob("*.py") if p.stem != "__init__"}
            | {d.name for d in directory.iterdir() if (d / "__init__.py").is_file()}
        )
        for a, b in itertools.combinations(names, 2):
            if _edit_distance(a, b) <= 1:
                clashes.append(f"{directory.relative_to(ROOT)}: {a} / {b}")
    assert clashes == []
