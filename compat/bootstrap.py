"""A Debian base no registry serves (an archived suite), bootstrapped with mmdebstrap and imported."""

from __future__ import annotations

import datetime
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from compat import frozen
from compat.engine import LABEL, Engine
from compat.errors import ToolchainUnavailable
from compat.matrix import Toolchain
from compat.planning import apt_conf

BASE_REPOSITORY = "ganeti-compat/base"


def bootstrap_argv(toolchain: Toolchain, tarball: Path, scripts: Path) -> list[str]:
    """mmdebstrap for a toolchain's base: its apt options, keyring and mirror, as its image's apt uses them.
    A frozen suite: its one source line `[trusted=yes]`, no keyring, and apt's update run in the setup hook
    (mmdebstrap then skips its own), followed by check-frozen-release (in `scripts`, with the pin file):
    before any package is downloaded, the Release file apt read must be the pinned one."""
    argv = ["mmdebstrap", "--variant=minbase"]
    argv += [f"--aptopt={line}" for line in apt_conf(toolchain.apt_options).splitlines() if line]
    argv += [f"--keyring={toolchain.keyring}"] if toolchain.keyring else []
    if toolchain.frozen:
        script, pins = (shlex.quote(str(scripts / name)) for name in ("check-frozen-release", "frozen-release"))
        hook = f'APT_CONFIG="$MMDEBSTRAP_APT_CONFIG" apt-get update && sh {script} "$1/var/lib/apt/lists" {pins}'
        argv += ["--skip=update", f"--setup-hook={hook}"]
        return argv + [toolchain.suite, str(tarball), frozen.source_line(toolchain)]
    argv += [toolchain.suite, str(tarball)]
    return argv + ([toolchain.mirror] if toolchain.mirror else [])


def refusal(log_text: str) -> str | None:
    """check-frozen-release's one line of refusal in a log, if it refused."""
    return next((line.strip() for line in log_text.splitlines()
                 if line.strip().startswith(frozen.REFUSED) and line.rstrip().endswith("refused")), None)


def bootstrap(engine: Engine, toolchain: Toolchain, log: Path, say: Callable[[str], None],
              frozen_refusal: Callable[[Toolchain], str | None]) -> str:
    """A base for the toolchain's suite, bootstrapped now and imported as ganeti-compat/base:<suite>-<date>."""
    tag = f"{toolchain.suite}-{datetime.date.today():%Y%m%d}"
    say(f"no registry serves debian:{toolchain.suite}: bootstrapping {BASE_REPOSITORY}:{tag} with mmdebstrap")
    if shutil.which("mmdebstrap") is None:
        raise ToolchainUnavailable(f"debian:{toolchain.suite} cannot be pulled and mmdebstrap is not installed "
                                   "(apt-get install mmdebstrap)")
    if toolchain.keyring and not Path(toolchain.keyring).is_file():
        raise ToolchainUnavailable(f"bootstrapping Debian {toolchain.suite} needs the keyring {toolchain.keyring} "
                                   "(apt-get install debian-archive-keyring)")
    refused = frozen_refusal(toolchain)
    if refused:
        raise ToolchainUnavailable(refused)
    with tempfile.TemporaryDirectory(prefix="ganeti-compat-base-") as tmp:
        tarball = Path(tmp) / "base.tar"
        (Path(tmp) / "check-frozen-release").write_bytes(frozen.SCRIPT.read_bytes())
        (Path(tmp) / "frozen-release").write_bytes(frozen.pin_file(toolchain))
        argv = bootstrap_argv(toolchain, tarball, Path(tmp))
        with log.open("a") as out:
            done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
        if done.returncode != 0:
            said = refusal(log.read_text(errors="replace"))
            raise ToolchainUnavailable(f"{toolchain.name}: {said}" if said else
                                       f"bootstrapping Debian {toolchain.suite} with mmdebstrap failed "
                                       f"(exit {done.returncode}; log: {log})")
        engine.import_tarball(tarball, BASE_REPOSITORY, tag, {LABEL: "1", f"{LABEL}.suite": toolchain.suite})
    return f"{BASE_REPOSITORY}:{tag}"
