"""Sessions: one per toolchain in matrix.yaml, plus matrix, report and tests; each calls `python -m compat`.

Sessions run in the environment nox runs in (`pip install -e .` installs nox with everything else), so a
session starts at once and its timings are the tool's own.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox
import yaml

nox.options.sessions = ["matrix"]
ROOT = Path(__file__).parent
PYTHON = sys.executable


def _toolchains() -> dict[str, dict[str, str]]:
    """Toolchains from matrix.yaml (description, kind, suite); `python -m compat validate` checks the rest."""
    data = yaml.safe_load((ROOT / "matrix.yaml").read_text()) or {}
    toolchains = data.get("toolchains") if isinstance(data, dict) else None
    if not isinstance(toolchains, dict):
        return {}
    return {str(name): {key: str(spec.get(key, "")) for key in ("description", "kind", "suite")}
            for name, spec in toolchains.items() if isinstance(spec, dict)}


def _register(name: str, spec: dict[str, str]) -> None:
    def session(session: nox.Session) -> None:
        session.run(PYTHON, "-m", "compat", "run", "--toolchain", name, *session.posargs, external=True)

    description = spec["description"] or f"toolchain {name}"
    session.__doc__ = f"{description} (posargs go to `compat run`, e.g. -- --source ganeti-3.0.2)"
    # The same tags as `python -m compat list --json`: `nox -t trixie`, `nox -t bindist`.
    tags = ["toolchain"] + [spec[key] for key in ("kind", "suite") if spec[key]]
    nox.session(name=name, python=False, tags=tags)(session)


for _name, _spec in _toolchains().items():
    _register(_name, _spec)


@nox.session(python=False)
def matrix(session: nox.Session) -> None:
    """Every toolchain x default source; the grid lands in reports/latest.md."""
    session.run(PYTHON, "-m", "compat", "run", *session.posargs, external=True)


@nox.session(python=False)
def nightly(session: nox.Session) -> None:
    """The whole matrix, every report, old runs pruned; fails only on regressions (1) or errors (5)."""
    session.run(PYTHON, "-m", "compat", "nightly", *session.posargs, external=True)


@nox.session(python=False)
def report(session: nox.Session) -> None:
    """Rewrite reports/latest.{md,json} from the latest run (or --run RUN)."""
    session.run(PYTHON, "-m", "compat", "report", *session.posargs, external=True)


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """Unit tests on captured data, then Docker integration tests on the curlint fixture."""
    session.run(PYTHON, "-m", "pytest", *(session.posargs or ["tests"]), external=True)
