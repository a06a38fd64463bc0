"""Tell build and test failures apart by the evidence in their logs: the first of CAUSES a failed step's log
shows evidence for (ghc-panic, deps, abi, link, compile; tests/test_failures.py on real logs).

Logs come from code this tool does not control, so reading one is bounded whatever it holds: the first
HEAD_LINES and last TAIL_LINES lines, MAX_SCAN characters of a line, and patterns that run in linear time
(see the note above PATTERNS).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_EVIDENCE = 8
HEAD_LINES = 1_000  # the first lines of a log that the analysis reads
TAIL_LINES = 10_000  # and the last ones: a few times the longest failing build log seen (Ganeti's: 760 lines)
MAX_SCAN = 2_000  # characters of a line that a regex looks at: error messages are short, make's commands are not
FOLLOW = 4  # lines after a match that may belong to its message
CAUSES = ("ghc-panic", "deps", "abi", "link", "compile")
HASKELL_SOURCES = (".hs", ".lhs", ".hsc", ".chs")

# A package whose dependency was unregistered or whose files were removed: GHC reports it while
# looking for a module or a -package, which reads like a missing dependency but is a broken database.
BROKEN_PACKAGE = (r"is unusable due to missing dependencies", r"There are files missing in the [`‘]\S+['’] package")
# GHC's z-encoded symbols (package_Module_name_closure, '.' as zi and '-' as zm); C symbols such as
# curl_version_info have no z-encoded part. The lookahead stays within the symbol's own characters.
HASKELL_SYMBOL = (r"[`‘'](?=[A-Za-z0-9_]*z[im])[A-Za-z0-9]+_[A-Z][A-Za-z0-9]*_[A-Za-z0-9]+"
                  r"(?:_con|_static)?_(?:closure|info|entry)['’]")
# "A, then B later on the line" is written A(?:(?!A).)*?B, not A.*B: from each A, .* reads to the line's end,
# quadratic on a line that repeats A and cubic with two .* (one 19 KB line of "relocation against " took 6 s);
# this gap stops at the next A, so each character is read by one attempt. It has no fixed length: cabal lists
# every rejected version before "(conflict:".
PATTERNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ghc-panic", (
        r"panic! \(the 'impossible' happened\)",
    )),
    ("deps", (
        r"rejecting: (?:(?!rejecting: ).)*?\(conflict:",
        r"Could not resolve dependencies",
        r"Encountered missing (or private )?dependencies",
        r"There is no package named",
        r"cannot satisfy -package",
        r"Could not (find|load) module",
        r"configure: error: (?:(?!configure: error: ).)*?(?:librar|module|package|Haskell)",
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
        *BROKEN_PACKAGE,
        r"The following packages are broken because other packages they depend on are missing",
        r"installed package \S+ is broken due to missing package",
        r"undefined reference to " + HASKELL_SYMBOL,
    )),
    ("link", (
        r"undefined reference to",
        r"cannot find -l\S+",
        r"collect2: error: ld returned",
        r"failed in phase `Linker'",
        r"relocation \S+ against (?:(?!relocation ).)*?can not be used",  # ld names the relocation in one word
    )),
    ("compile", (
        # [^\s:]+, not \S+: a path has no colon, and \S+ would read the line and back off its every character.
        r"^[^\s:]+\.(hs|lhs|hsc|chs|c)(:\d+)+: error",
        r"^[^\s:]+\.(hs|lhs)(:\d+)+:\s*$",
        r"error: \[GHC-\d+\]",
        # Template Haskell names GHC 7.10 rejects (newName on a keyword, GHC #10599): the message says so also
        # where its location line is out of the log's window or make -j wrote other lines between them.
        r"Illegal (?:type )?variable name: ",
    )),
)
# Compiled one by one rather than joined with |: a regex that starts with a literal is searched for that
# literal first, about 50 times faster on an ordinary line than an alternation tried at every character.
RULES = tuple((cause, tuple(re.compile(p) for p in patterns)) for cause, patterns in PATTERNS)
BROKEN = tuple(re.compile(p) for p in BROKEN_PACKAGE)
MISSING_MODULE = re.compile(r"Could not find module [‘`]([A-Z][\w.]*)[’']")

SHELL_SIGNALS = r"(?:Aborted|Segmentation fault|Bus error|Illegal instruction|Floating point exception|Killed)"
CRASH_PATTERNS = (
    r"^[^\s:]+: internal error: ",  # the GHC RTS (a program's name has no colon, see PATTERNS' compile)
    r"\(core dumped\)",
    rf"^{SHELL_SIGNALS}$",  # dash, alone on its line
    rf"^[^\s:]+: line \d+: +\d+ {SHELL_SIGNALS}\b",  # bash: "sh: line 1: 1234 Aborted   ./htest"
    r"killed by signal",
)
CRASH = tuple(re.compile(p) for p in CRASH_PATTERNS)
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


def log_lines(log: str) -> list[str]:
    """The lines the analysis reads: the first HEAD_LINES and the last TAIL_LINES of a log, with one empty line
    where the lines between them were left out (it also ends a message, see _message)."""
    # The text is cut at newlines before it is split, so a log of millions of lines costs its window, not a
    # list of millions of strings; splitlines then also splits at \r and the like, and the window is kept.
    head_end = 0
    for _ in range(HEAD_LINES):
        head_end = log.find("\n", head_end) + 1
        if not head_end:
            return _window(log.splitlines())
    tail_start = len(log) - 1  # a last newline ends the last line, it starts none
    for _ in range(TAIL_LINES):
        tail_start = log.rfind("\n", head_end, tail_start)
        if tail_start < 0:
            return _window(log.splitlines())
    return log[:head_end].splitlines()[:HEAD_LINES] + [""] + log[tail_start + 1:].splitlines()[-TAIL_LINES:]


def _window(lines: list[str]) -> list[str]:
    if len(lines) <= HEAD_LINES + TAIL_LINES:
        return lines
    return lines[:HEAD_LINES] + [""] + lines[-TAIL_LINES:]


def _search(regexes: tuple[re.Pattern[str], ...], line: str) -> bool:
    """Whether one of the regexes matches within the line's first MAX_SCAN characters."""
    return any(regex.search(line, 0, MAX_SCAN) for regex in regexes)


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
    if any(_search(BROKEN, line) for line in message):
        return "abi"
    missing = MISSING_MODULE.search(message[0], 0, MAX_SCAN)
    if missing and own_module(missing.group(1), own_sources):
        return "compile"
    return cause


def classify_build(log: str, own_sources: Iterable[str] | None = None) -> Diagnosis:
    """Cause of a failed configure/build step (see CAUSES), with the lines that show it.

    own_sources: the project's Haskell source files relative to its tree, to tell a missing module of
    its own (compile) from one of another package (deps); None when unknown (then deps). Reads the log's
    window (log_lines), each line up to MAX_SCAN characters.
    """
    sources = None if own_sources is None else tuple(own_sources)
    lines = log_lines(log)
    found: dict[str, list[str]] = {}
    for index, line in enumerate(lines):
        cause = next((cause for cause, regexes in RULES if _search(regexes, line)), None)
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
    """Lines showing a crash (RTS internal error, signal), empty when it was no crash; from the log's window."""
    evidence = [line.rstrip() for line in log_lines(log) if _search(CRASH, line)][:MAX_EVIDENCE - 1]
    signal = signal_of(exit_code)
    if signal:
        evidence.append(f"exit code {exit_code}: killed by {signal}")
    return tuple(evidence)
