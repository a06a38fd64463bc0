"""Tell build and test failures apart by the evidence in their logs.

A failed build step gets the first cause of CAUSES that its log shows evidence for:

1. ``ghc-panic``: the compiler itself crashed; the errors around it may be its consequence.
2. ``deps``: something the project needs is not installed, or the solver rejected what is; the compile
   errors that may follow are its consequence.
3. ``abi``: the toolchain is inconsistent: interface files of another GHC, a package database whose
   packages lost a dependency or their files, libraries built against other packages' symbols. GHC
   words some of these as a missing module or package, so they are told apart from ``deps`` by the
   whole message.
4. ``link``: the linker could not find a C library or symbol.
5. ``compile``: an error in the project's own code, including an import of a module of its own that
   GHC cannot find.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_EVIDENCE = 8
FOLLOW = 4  # lines after a match that may belong to its message
CAUSES = ("ghc-panic", "deps", "abi", "link", "compile")
HASKELL_SOURCES = (".hs", ".lhs", ".hsc", ".chs")

# A package whose dependency was unregistered or whose files were removed: GHC reports it while
# looking for a module or a -package, which reads like a missing dependency but is a broken database.
BROKEN_PACKAGE = r"is unusable due to missing dependencies|There are files missing in the [`‘]\S+['’] package"
# GHC's z-encoded symbols (package_Module_name_closure, '.' as zi and '-' as zm); C symbols such as
# curl_version_info have no z-encoded part.
HASKELL_SYMBOL = (r"[`‘'](?=[^'’]*z[im])[A-Za-z0-9]+_[A-Z][A-Za-z0-9]*_[A-Za-z0-9]+"
                  r"(?:_con|_static)?_(?:closure|info|entry)['’]")
PATTERNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ghc-panic", (
        r"panic! \(the 'impossible' happened\)",
    )),
    ("deps", (
        r"rejecting: .*\(conflict:",
        r"Could not resolve dependencies",
        r"Encountered missing (or private )?dependencies",
        r"There is no package named",
        r"cannot satisfy -package",
        r"Could not (find|load) module",
        r"configure: error: .*(librar|module|package|Haskell)",
        r"E: Unable to locate package",
        r"E: Unable to correct problems, you have held broken packages",
    )),
    ("abi", (
        r"Bad interface file",
        r"mismatched interface file",
        r"compiled with a different (ABI|version)",
        r"interface hash",
        r"There are problems in package",
        r"dependency \"\S+\" doesn't exist",
        BROKEN_PACKAGE,
        r"The following packages are broken because other packages they depend on are missing",
        r"installed package \S+ is broken due to missing package",
        r"undefined reference to " + HASKELL_SYMBOL,
    )),
    ("link", (
        r"undefined reference to",
        r"cannot find -l\S+",
        r"collect2: error: ld returned",
        r"failed in phase `Linker'",
        r"relocation .* against .* can not be used",
    )),
    ("compile", (
        r"^\S+\.(hs|lhs|hsc|chs|c)(:\d+)+: error",
        r"^\S+\.(hs|lhs)(:\d+)+:\s*$",
        r"error: \[GHC-\d+\]",
    )),
)
RULES = tuple((cause, re.compile("|".join(f"(?:{p})" for p in patterns))) for cause, patterns in PATTERNS)
BROKEN = re.compile(BROKEN_PACKAGE)
MISSING_MODULE = re.compile(r"Could not find module [‘`]([A-Z][\w.]*)[’']")

SHELL_SIGNALS = r"(?:Aborted|Segmentation fault|Bus error|Illegal instruction|Floating point exception|Killed)"
CRASH_PATTERNS = (
    r"^\S+: internal error: ",  # the GHC RTS
    r"\(core dumped\)",
    rf"^{SHELL_SIGNALS}$",  # dash, alone on its line
    rf"^\S+: line \d+: +\d+ {SHELL_SIGNALS}\b",  # bash: "sh: line 1: 1234 Aborted   ./htest"
    r"killed by signal",
)
CRASH = re.compile("|".join(f"(?:{p})" for p in CRASH_PATTERNS))
MAX_SIGNAL = 64  # SIGRTMAX on Linux: a larger 128 + n is an exit status of the program (255: exit(-1))
SIGNALS = {4: "SIGILL", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 11: "SIGSEGV", 15: "SIGTERM"}


@dataclass(frozen=True)
class Diagnosis:
    cause: str | None
    evidence: tuple[str, ...]


# Top-level names of the hierarchical module namespace that many packages share.
SHARED_NAMESPACES = frozenset({"Codec", "Control", "Crypto", "Data", "Database", "Debug", "Foreign", "GHC", "Graphics",
                               "Language", "Network", "Numeric", "Prelude", "System", "Test", "Text", "Web"})


def own_module(module: str, own_sources: Iterable[str] | None) -> bool | None:
    """Whether `module` (A.B.C) is the project's own, from its Haskell source files; None when unknown.

    It is when a source file for it exists (a path ending in A/B/C.hs), or when its namespace A.B is a
    directory that holds sources: a module that should be there but is not, e.g. one make generates. A
    namespace shared by many packages (Test, Data, ...) does not count alone: Ganeti's test/hs/Test/ does
    not make Test.QuickCheck its own.
    """
    if own_sources is None:
        return None
    path = "/" + module.replace(".", "/")
    namespace = path.rpartition("/")[0]  # empty for a top-level module: the tree's root is no namespace
    if namespace.lstrip("/") in SHARED_NAMESPACES:
        namespace = ""
    for source in own_sources:
        stem, dot, suffix = ("/" + source).rpartition(".")
        if dot + suffix not in HASKELL_SOURCES:
            continue
        if stem.endswith(path) or (namespace and stem.rpartition("/")[0].endswith(namespace)):
            return True
    return False


def _message(lines: list[str], index: int) -> list[str]:
    """The matching line and what belongs to it: a wrapped solver line, the indented body of a GHC
    message, or what follows a line that ends in ':' (cabal's lists) or ','."""
    first = lines[index].rstrip()
    taken = [first]
    depth = first.count("(") - first.count(")")
    continued = first.endswith((":", ","))
    for line in lines[index + 1:index + 1 + FOLLOW]:
        if depth > 0:
            depth += line.count("(") - line.count(")")
        elif not line.strip() or line.lstrip().startswith("|") or not (continued or line[:1].isspace()):
            break
        taken.append(line.rstrip())
    return taken


def _refine(cause: str, message: list[str], own_sources: tuple[str, ...] | None) -> str:
    """The cause of a whole message, where its first line alone reads like a missing dependency."""
    if cause != "deps":
        return cause
    if any(BROKEN.search(line) for line in message):
        return "abi"
    missing = MISSING_MODULE.search(message[0])
    if missing and own_module(missing.group(1), own_sources):
        return "compile"
    return cause


def classify_build(log: str, own_sources: Iterable[str] | None = None) -> Diagnosis:
    """Cause of a failed configure/build step (see CAUSES), with the lines that show it.

    own_sources: the project's Haskell source files relative to its tree, to tell a missing module of
    its own (compile) from one of another package (deps); None when unknown (then deps).
    """
    sources = None if own_sources is None else tuple(own_sources)
    lines = log.splitlines()
    found: dict[str, list[str]] = {}
    for index, line in enumerate(lines):
        cause = next((cause for cause, regex in RULES if regex.search(line)), None)
        if cause is None:
            continue
        message = _message(lines, index)
        evidence = found.setdefault(_refine(cause, message, sources), [])
        if len(evidence) < MAX_EVIDENCE:
            evidence += [piece for piece in message if piece not in evidence]
    for cause in CAUSES:
        if cause in found:
            return Diagnosis(cause, tuple(found[cause][:MAX_EVIDENCE]))
    return Diagnosis(None, tuple(line.rstrip() for line in lines if line.strip())[-5:])


def signal_of(exit_code: int) -> str | None:
    """The signal that ended a process, from a shell's or container's exit code 128 + n, or -n as
    Python's subprocess reports it."""
    number = exit_code - 128 if exit_code > 128 else -exit_code
    if not 1 <= number <= MAX_SIGNAL:
        return None
    return SIGNALS.get(number, f"signal {number}")


def crash_evidence(log: str, exit_code: int) -> tuple[str, ...]:
    """Lines showing a crash (RTS internal error, signal), empty when it was no crash."""
    lines = (line.rstrip() for line in log.splitlines())
    evidence = [line for line in lines if CRASH.search(line)][:MAX_EVIDENCE - 1]
    signal = signal_of(exit_code)
    if signal:
        evidence.append(f"exit code {exit_code}: killed by {signal}")
    return tuple(evidence)
