"""Sessions: one per toolchain in matrix.yaml, plus matrix, report and tests; each calls `python -m compat`.

Sessions run in the environment nox runs in (`pip install -e .` installs nox with everything else), so a
session starts at once and its timings are the tool's own.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT))  # nox imports this file by path; the name rules are the tool's own
from compat.errors import ConfigError
from compat.matrix import Toolchain, load

nox.options.sessions = ["matrix"]
PYTHON = sys.executable


def _toolchains() -> dict[str, Toolchain]:
    """The toolchains of matrix.yaml, read by the tool's own loader.

    A matrix that does not validate registers no toolchain session, so a bad name can never replace
    `tests` or `matrix`: the error is said once here and again, with exit 2, by `nox -s matrix`.
    """
    try:
        return load(ROOT / "matrix.yaml").toolchains
    except ConfigError as exc:
        print(f"noxfile.py: no toolchain sessions: {exc}", file=sys.stderr)
        return {}


def _register(name: str, toolchain: Toolchain) -> None:
    def session(session: nox.Session) -> None:
        session.run(PYTHON, "-m", "compat", "run", "--toolchain", name, *session.posargs, external=True)

    description = toolchain.description or f"toolchain {name}"
    session.__doc__ = f"{description} (posargs go to `compat run`, e.g. -- --source ganeti-3.0.2)"
    nox.session(name=name, python=False, tags=toolchain.tags)(session)


for _name, _toolchain in _toolchains().items():
    _register(_name, _toolchain)


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
    """Unit tests on captured data, then Docker integration tests; first says what the machine lacks for them."""
    from tests.needs import docker_selected, message, missing

    args = session.posargs or ["tests"]
    if found := missing(docker_selected(args)):
        session.error(message(found))
    session.run(PYTHON, "-m", "pytest", *args, external=True)
