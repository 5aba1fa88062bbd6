"""The layers of DESIGN.md, checked on the source: nothing imports from a layer above it, no private
name crosses a module boundary, and ``import padlab`` loads no numba, torch or dask.

Layers, from the top (a module may import its own layer and the layers below it):

    cli        padlab.cli (its audit and experiment commands call the adapters, lazily)
    adapters   padlab.torch, padlab.dask
    package    padlab/__init__.py: the public facade, re-exports the layers below
    report     padlab.report
    analysis   padlab.analysis
    ops        padlab.ops
    engine     padlab.engine
    modes      padlab.modes
    io/kernels padlab.io, padlab.kernels
    bottom     padlab.geometry, padlab._validate, padlab.errors, padlab._files, padlab._threads,
               padlab._memo, padlab._version, padlab._compiled, padlab._process

Every import counts, also one inside a function (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "padlab"

LAYERS: dict[str, int] = {
    "padlab.geometry": 0,
    "padlab._validate": 0,
    "padlab.errors": 0,
    "padlab._files": 0,
    "padlab._threads": 0,
    "padlab._memo": 0,
    "padlab._version": 0,
    "padlab._compiled": 0,
    "padlab._process": 0,
    "padlab.io": 1,
    "padlab.kernels": 1,
    "padlab.modes": 2,
    "padlab.engine": 3,
    "padlab.ops": 4,
    "padlab.analysis": 5,
    "padlab.report": 6,
    "padlab": 7,  # the package's __init__: the public facade
    "padlab.torch": 8,
    "padlab.dask": 8,
    "padlab.cli": 9,
}
LAYER_NAMES = {
    0: "bottom",
    1: "io/kernels",
    2: "modes",
    3: "engine",
    4: "ops",
    5: "analysis",
    6: "report",
    7: "package",
    8: "adapters",
    9: "cli",
}

# Known violations, each fixed in a branch being merged this round (issue 13): the lead empties
# this list at merge. Entries are "importer -> imported". Nothing may be added to it.
KNOWN_UPWARD: frozenset[str] = frozenset()
KNOWN_PRIVATE: frozenset[str] = frozenset()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> int | None:
    """The layer of a padlab module: its longest listed prefix."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in LAYERS:
            return LAYERS[prefix]
    return None


def _is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (SRC / relative).with_suffix(".py").is_file() or (
        SRC / relative / "__init__.py"
    ).is_file()


@functools.cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


@functools.cache
def _imports(path: Path) -> list[tuple[str, str | None, int]]:
    """``(module, name or None, line)`` for every import in a file, relative ones resolved."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = _tree(path)
    found: list[tuple[str, str | None, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, None, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.extend((target, alias.name, node.lineno) for alias in node.names)
    return found


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _upward_imports() -> list[str]:
    found = []
    for path in _sources():
        importer = _module_name(path)
        own = _layer(importer)
        assert own is not None, f"{importer} is in no layer: add it to LAYERS and DESIGN.md"
        for target, name, line in _imports(path):
            if not target.startswith("padlab"):
                continue
            # "from padlab import geometry" imports the module padlab.geometry
            full = f"{target}.{name}" if name and _is_module(f"{target}.{name}") else target
            layer = _layer(full)
            if layer is not None and layer > own and not importer.startswith(full + "."):
                found.append(
                    f"{importer} -> {full}  ({path.relative_to(SRC.parent)}:{line}: "
                    f"{LAYER_NAMES[own]} imports {LAYER_NAMES[layer]})"
                )
    return found


def _private_imports() -> list[str]:
    found = []
    for path in _sources():
        importer = _module_name(path)
        for target, name, line in _imports(path):
            if not target.startswith("padlab") or name is None:
                continue
            if name.startswith("_") and not name.startswith("__"):
                if _is_module(f"{target}.{name}"):
                    continue  # a module such as padlab._validate: its public names are public
                found.append(
                    f"{importer} -> {target}.{name}  ({path.relative_to(SRC.parent)}:{line})"
                )
        found.extend(_private_attributes(path, importer))
    return found


def _private_attributes(path: Path, importer: str) -> list[str]:
    """``alias._name`` where alias is an imported padlab module (``from padlab.x import y``)."""
    tree = _tree(path)
    aliases: dict[str, str] = {}
    for target, name, _ in _imports(path):
        if not target.startswith("padlab"):
            continue
        if name is None:
            continue
        if _is_module(f"{target}.{name}"):
            aliases[name] = f"{target}.{name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.asname and alias.name in aliases:
                    aliases[alias.asname] = aliases.pop(alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("padlab") and alias.asname:
                    aliases[alias.asname] = alias.name
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and aliases[node.value.id] != importer
        ):
            found.append(
                f"{importer} -> {aliases[node.value.id]}.{node.attr}  "
                f"({path.relative_to(SRC.parent)}:{node.lineno})"
            )
    return found


def _key(entry: str) -> str:
    return entry.split("  (", 1)[0]


def _check(found: list[str], known: frozenset[str], what: str, record: list[str]) -> None:
    new = [f for f in found if _key(f) not in known]
    fixed = sorted(known - {_key(f) for f in found})
    message = []
    if new:
        message.append(f"{len(new)} {what}:\n  " + "\n  ".join(new))
    if fixed:
        message.append("fixed, remove from the known list:\n  " + "\n  ".join(fixed))
    assert not message, "\n".join(message)
    record.extend(f"{what}: {entry}" for entry in sorted(known))


def test_the_layer_table_covers_every_module():
    unknown = [m for m in map(_module_name, _sources()) if _layer(m) is None]
    assert unknown == []


def test_no_module_imports_from_a_layer_above_it(known_violations):
    _check(_upward_imports(), KNOWN_UPWARD, "upward import", known_violations)


def test_no_private_name_is_imported_across_modules(known_violations):
    _check(_private_imports(), KNOWN_PRIVATE, "private name imported", known_violations)


def test_the_checker_sees_violations(tmp_path, monkeypatch):
    """The checks above can fail: a planted upward import and private import are found."""
    fake = tmp_path / "padlab"
    (fake / "engine").mkdir(parents=True)
    (fake / "ops").mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "ops" / "__init__.py").write_text("def _hidden():\n    pass\n")
    (fake / "engine" / "__init__.py").write_text(
        "from padlab.ops import _hidden\nfrom ..ops import geometry\n"
    )
    (fake / "ops" / "geometry.py").write_text("")
    (fake / "engine" / "lazy.py").write_text(
        "def f():\n    from padlab import ops\n    return ops._hidden()\n"
    )
    _tree.cache_clear()
    _imports.cache_clear()
    monkeypatch.setattr(sys.modules[__name__], "SRC", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    upward = sorted(map(_key, _upward_imports()))
    assert upward == [
        "padlab.engine -> padlab.ops",
        "padlab.engine -> padlab.ops.geometry",
        "padlab.engine.lazy -> padlab.ops",
    ]
    private = sorted(map(_key, _private_imports()))
    assert private == [
        "padlab.engine -> padlab.ops._hidden",
        "padlab.engine.lazy -> padlab.ops._hidden",
    ]


def _loaded_after(code: str) -> set[str]:
    """Top-level modules among numba, torch, dask that are loaded after running ``code``."""
    probe = (
        f"{code}\nimport sys\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'numba', 'torch', 'dask'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "HOME": str(ROOT)},
        cwd=ROOT,
        timeout=120,
    )
    return set(ast.literal_eval(result.stdout.strip().splitlines()[-1]))


def test_import_padlab_loads_no_numba_torch_or_dask():
    assert _loaded_after("import padlab") == set()


@pytest.mark.parametrize("command", ["kernels", "modes"])
def test_listing_commands_load_no_numba(command):
    code = (
        "import contextlib, io\nfrom padlab.cli.main import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n    assert main([{command!r}]) == 0"
    )
    assert "numba" not in _loaded_after(code)
