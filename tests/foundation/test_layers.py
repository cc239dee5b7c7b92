"""Layer rules over core's import graph (module-level and in-function imports both).

Layers point one way: base (errors, settings, plugins, blocks, db...) <- engines (transfer,
git) <- storage/steps <- deployments/flows/runs/schedules/envs <- workers <- cli/server.
A module never imports a higher layer at module level. An upward import inside a function
is allowed only where the API needs it and is listed in ``UPWARD_CALLS`` with its reason,
so a new one is a decision, not an accident. No library module imports ``stowflow.cli``;
core never imports a provider plugin; the module-level graph between areas has no circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import stowflow

ROOT = Path(stowflow.__file__).parent
LAYERS = {area: rank for rank, areas in enumerate([
    ("errors", "redact", "sizes", "settings", "hookspecs", "timing"),
    ("plugins",),  # the plugin manager; each registry lives with its owner, above it
    ("__init__", "blocks", "db", "placeholders", "variables"),
    ("transfer", "git", "envs"),  # envs: run environment layers, below steps' requires:
    ("storage", "steps", "git.providers", "git.hosts"),  # the git-host kit is a storage layer
    ("runs", "schedules", "deployments.records",  # the deployment records flows write
     "workers.types", "workers.pools"),  # pool types and pool records, read at deploy time
    ("deployments", "flows", "migrate"),
    ("workers",),
    ("cli", "server", "api_client", "__main__"),  # api_client: the CLI's HTTP client
]) for area in areas}

#: (importer, imported area) pairs of in-function upward imports, each with its reason.
#: Imports under ``if TYPE_CHECKING:`` never run and are not edges.
UPWARD_CALLS = {
    ("stowflow", "flows"): "the root package re-exports @flow lazily",
    ("stowflow.git._plugin", "storage"): "core's git built-in claims git URLs as GitRepository",
    ("stowflow.steps._plugin", "deployments"): "the public step addresses live in deployments",
    ("stowflow.transfer._plugin", "storage"): "core's transfer built-in claims URLs as RemoteStorage",
}


def _area(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "stowflow":
        return None
    if len(parts) == 1:
        return "__init__"
    dotted = ".".join(parts[1:3])
    if dotted in LAYERS:
        return dotted
    if not ((ROOT / parts[1]).is_dir() or (ROOT / f"{parts[1]}.py").is_file()):
        return "__init__"  # a name the root package defines (__version__, flow...)
    return parts[1]


def _imports() -> list[tuple[str, str, bool]]:
    """Return (importer module, imported module, at module level) for every import that can
    run (those under ``if TYPE_CHECKING:`` are left out)."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        module = ".".join(parts).removesuffix(".__init__")
        if module.startswith("stowflow.testing"):
            continue  # test support may use every layer
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {id(node) for node in tree.body}
        typing_only = {id(inner) for node in ast.walk(tree)
                       if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                       for stmt in node.body for inner in ast.walk(stmt)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.module == "stowflow":
                names = [f"stowflow.{alias.name}" for alias in node.names]  # submodules
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            found.extend((module, name, id(node) in top) for name in names)
    return found


def test_no_module_level_import_points_up() -> None:
    bad = [f"{src} -> {dst}" for src, dst, top in _imports()
           if top and (a := _area(src)) and (b := _area(dst)) and a != b
           and LAYERS[b] > LAYERS[a]]
    assert bad == []


def test_every_upward_call_inside_a_function_is_listed() -> None:
    seen = set()
    for src, dst, top in _imports():
        a, b = _area(src), _area(dst)
        if top or a is None or b is None or a == b or LAYERS[b] <= LAYERS[a]:
            continue
        seen.add((src, b.split(".")[0]))
    assert sorted(seen - set(UPWARD_CALLS)) == []
    assert sorted(set(UPWARD_CALLS) - seen) == []  # a removed call leaves the list too


def test_no_library_module_imports_the_cli_and_core_imports_no_plugin() -> None:
    bad = [f"{src} -> {dst}" for src, dst, _ in _imports()
           if (dst == "stowflow.cli" or dst.startswith("stowflow.cli."))
           and not (src.startswith("stowflow.cli") or src == "stowflow.__main__")]
    assert bad == []
    plugins = [f"{src} -> {dst}" for src, dst, _ in _imports() if dst.startswith("stowflow_")]
    assert plugins == []


def _circles(module_level_only: bool) -> list[str]:
    edges: dict[str, set[str]] = {}
    for src, dst, top in _imports():
        a, b = _area(src), _area(dst)
        if a and b and a != b and (top or not module_level_only) and (
                (src, b.split(".")[0]) not in UPWARD_CALLS):
            edges.setdefault(a, set()).add(b)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in edges.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    return sorted(a for a in edges if reaches(a, a, {a}))


def test_the_module_level_area_graph_has_no_circle() -> None:
    assert _circles(module_level_only=True) == []


def test_no_circle_closes_through_an_in_function_import() -> None:
    # Every import that can run, in functions too; only the listed upward calls are left out
    # (each is a decision, and none of the areas they reach imports its caller back).
    assert _circles(module_level_only=False) == []
