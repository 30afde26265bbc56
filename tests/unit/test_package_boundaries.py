"""The instrumentation and the emulator are separate packages: neither imports the other."""

from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
INSTRUMENTATION = "opentelemetry_instrumentation_databricks"
EMULATOR = "databricks_emulator"
DEPRECATED_ALIAS = SRC / INSTRUMENTATION / "emulator"


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _offenders(package: str, forbidden: str, skip: Path | None = None) -> list[str]:
    found = []
    for path in sorted((SRC / package).rglob("*.py")):
        if skip is not None and skip in path.parents:
            continue
        for name in _imported_modules(path):
            if name == forbidden or name.startswith(forbidden + "."):
                found.append(f"{path.relative_to(SRC)} imports {name}")
    return found


def test_emulator_never_imports_the_instrumentation():
    assert _offenders(EMULATOR, INSTRUMENTATION) == []


def test_instrumentation_never_imports_the_emulator_outside_the_deprecated_alias():
    assert _offenders(INSTRUMENTATION, EMULATOR, skip=DEPRECATED_ALIAS) == []


@pytest.mark.subprocess
def test_importing_the_emulator_loads_no_instrumentation_module():
    code = f"import sys, {EMULATOR}; print(sorted(m for m in sys.modules if m.startswith('{INSTRUMENTATION}')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_old_emulator_import_path_still_works_and_warns():
    sys.modules.pop(f"{INSTRUMENTATION}.emulator", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from opentelemetry_instrumentation_databricks.emulator import Emulator
    import databricks_emulator

    assert Emulator is databricks_emulator.Emulator
    assert any(issubclass(w.category, DeprecationWarning) and EMULATOR in str(w.message) for w in caught)
