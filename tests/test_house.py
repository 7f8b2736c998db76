"""The house's import rules, checked on every `make test` (the floor plan in sweep/__init__.py):

- no circle of files: no two modules import each other, directly or through others (imports inside
  functions count: a lazy import is still an arrow a reader must follow);
- between rooms (each package of sweep/ is one room), no import that runs back up but the allowed ones
  (ALLOWED_UPWARD, at most 3, each with its reason), and at most 12 floors (a room stands above all it imports);
- lightning_modules/ never imports sweep; sweep.config and sweep.runtime import no feature package.

Our own check rather than import-linter: import-linter reads module-level imports only (a lazy import
inside a function, how this project keeps --help fast, is invisible to it) and has no file-circle contract.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sweep", "lightning_modules", "hydra_plugins")
MAX_FLOORS = 12
# what each floor package may import of sweep (itself included)
FLOOR_RULES = {
    "sweep.config": ("sweep.config",),
    "sweep.runtime": ("sweep.config", "sweep.runtime"),
}
# the imports that may run back up, each with its reason (at most 3)
ALLOWED_UPWARD = {
    # a job binds itself to its Optuna trial, in whatever process or node it runs (sweep/search/binding.py),
    # while the search checks its jobs' configs and reads what they return (pipeline/validate.py, outcome.py)
    ("sweep.pipeline", "sweep.search"): "a job binds itself to its trial",
}


def module_files() -> dict[str, Path]:
    files = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            files[".".join(parts)] = path
    return files


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Modules of this house that ``name`` imports anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` where c is a name
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    known = module_files()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def room(name: str) -> str:
    """A package of sweep/ is one room; so are lightning_modules and hydra_plugins (farm-studio's plan)."""
    parts = name.split(".")
    if parts[0] != "sweep" or len(parts) == 1:
        return parts[0]
    return ".".join(parts[:2])


def room_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    rooms: dict[str, set[str]] = {}
    for name, targets in graph.items():
        rooms.setdefault(room(name), set()).update(room(t) for t in targets if room(t) != room(name))
        for target in targets:
            rooms.setdefault(room(target), set())
    return rooms


def upward_arrows(rooms: dict[str, set[str]]) -> set[tuple[str, str]]:
    """Arrows between rooms that import each other (directly or round a loop)."""
    tied = circles(rooms)
    return {(a, b) for circle in tied for a in circle for b in rooms[a] if b in circle}


def floors(rooms: dict[str, set[str]]) -> dict[str, int]:
    """A room's floor: one above the highest room it imports (the allowed upward arrows left out)."""
    level: dict[str, int] = {}

    def floor(name: str) -> int:
        if name not in level:
            level[name] = 0  # guards a loop the allowed list does not cover (test_upward_arrows reports it)
            level[name] = 1 + max((floor(t) for t in rooms[name] if (name, t) not in ALLOWED_UPWARD), default=0)
        return level[name]

    for name in rooms:
        floor(name)
    return level


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_no_circle_of_files(graph):
    assert circles(graph) == []


def test_upward_arrows_are_the_allowed_ones(graph):
    assert len(ALLOWED_UPWARD) <= 3
    assert upward_arrows(room_graph(graph)) <= set(ALLOWED_UPWARD) | {(b, a) for a, b in ALLOWED_UPWARD}


def test_at_most_twelve_floors(graph):
    level = floors(room_graph(graph))
    assert max(level.values()) <= MAX_FLOORS, sorted(level.items(), key=lambda kv: -kv[1])


def test_lightning_modules_never_import_sweep(graph):
    bad = {
        name: sorted(t for t in targets if t.startswith("sweep")) for name, targets in graph.items() if name.startswith("lightning_modules")
    }
    assert {name: targets for name, targets in bad.items() if targets} == {}


@pytest.mark.parametrize("floor", sorted(FLOOR_RULES))
def test_the_floor_imports_no_feature(graph, floor):
    allowed = FLOOR_RULES[floor]
    bad = {
        name: sorted(t for t in targets if t.startswith("sweep") and not t.startswith(allowed))
        for name, targets in graph.items()
        if name.startswith(floor)
    }
    assert {name: targets for name, targets in bad.items() if targets} == {}


def test_the_check_sees_a_circle():
    """The checks can fail: a planted circle, a loop of rooms and a tower of 14 floors are found."""
    graph = {"sweep.a": {"sweep.b"}, "sweep.b": {"sweep.c"}, "sweep.c": {"sweep.a"}, "sweep.d": set()}
    assert circles(graph) == [["sweep.a", "sweep.b", "sweep.c"]]
    chain = {f"sweep.p{i}.m": {f"sweep.p{i + 1}.m"} for i in range(13)} | {"sweep.p13.m": {"sweep.p0.m"}}
    assert upward_arrows(room_graph(chain)) == {(f"sweep.p{i}", f"sweep.p{(i + 1) % 14}") for i in range(14)}
    chain["sweep.p13.m"] = set()
    assert max(floors(room_graph(chain)).values()) == 14
