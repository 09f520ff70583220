"""The rooms' import rules: data flows hdl -> sim -> lut_build -> emulator -> experiments, fileio sits
under all of them, axx over all of them, and no module imports itself back through others."""
import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("fileio", "lut_build", "sim", "emulator", "experiments", "axx")
# what each room may import of ours (besides itself)
ALLOWED = {
    "fileio": set(),
    "lut_build": {"fileio"},
    "sim": {"fileio", "lut_build"},
    "emulator": {"fileio", "lut_build"},
    "experiments": {"fileio", "lut_build", "emulator"},
    "axx": {"fileio", "lut_build", "sim", "emulator", "experiments"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Every module of ours this file imports, at any depth (function-level imports included);
    `from pkg import name` counts as importing pkg.name when that is a module, else pkg."""
    name = _module_name(path)
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:
                found.add(f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod)
    return {m for m in found if m in modules and m != name}


def _graph() -> dict[str, set[str]]:
    files = [p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")]
    mods = {_module_name(p): p for p in files}
    return {m: _imports(p, set(mods)) for m, p in mods.items()}


@pytest.mark.parametrize("room", PACKAGES)
def test_rooms_import_only_downwards(room):
    bad = sorted(f"{m} imports {i}" for m, deps in _graph().items() if m.split(".")[0] == room
                 for i in deps if i.split(".")[0] not in ALLOWED[room] | {room})
    assert not bad, bad


def test_no_import_cycles():
    """Between modules (a package's __init__ re-exporting its own modules is not a cycle)."""
    g = {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in _graph().items()}
    state: dict = {}

    def visit(m, stack):
        state[m] = 1
        for d in sorted(g.get(m, ())):
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d]
                raise AssertionError(" -> ".join(cycle))
            if d not in state:
                visit(d, stack + [d])
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m, [m])

