from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from compat.analysis.failures import (
    CAUSES,
    HEAD_LINES,
    MAX_SCAN,
    TAIL_LINES,
    Diagnosis,
    classify_build,
    crash_evidence,
    log_lines,
    own_module,
    signal_of,
)


def read(data: Path, name: str) -> str:
    return (data / name).read_text()


def test_ganeti_302_on_bookworm_is_a_dependency_failure_with_the_lens_bound(data: Path) -> None:
    diagnosis = classify_build(read(data, "ganeti/3.0.2-bookworm-build.log"))
    assert diagnosis.cause == "deps"
    joined = "\n".join(diagnosis.evidence)
    assert "rejecting: lens-5.0.1" in joined
    assert "lens>=3.10 && <5.0" in joined


def test_compile_error_keeps_location_and_message(data: Path) -> None:
    diagnosis = classify_build(read(data, "errors/compile-error.log"))
    assert diagnosis.cause == "compile"
    assert diagnosis.evidence[0] == "Bad.hs:3:22: error: [GHC-83865]"
    assert "Couldn't match type `Bool' with `[Char]'" in diagnosis.evidence[1]


def test_interface_version_mismatch_is_abi_not_compile(data: Path) -> None:
    diagnosis = classify_build(read(data, "errors/mismatched-interface.log"))
    assert diagnosis.cause == "abi"
    assert any('wanted "9002", got "9066"' in line for line in diagnosis.evidence)


def test_link_errors(data: Path) -> None:
    missing = classify_build(read(data, "errors/link-error-cannot-find-lcurl.log"))
    assert missing.cause == "link"
    assert missing.evidence[0] == "/usr/bin/ld: cannot find -lcurl: No such file or directory"
    static = classify_build(read(data, "errors/link-error-missing-libcurl.log"))
    assert static.cause == "link"
    assert "undefined reference to `gss_unwrap'" in static.evidence[0]
    assert len(static.evidence) <= 8


def test_broken_package_database_is_abi(data: Path) -> None:
    diagnosis = classify_build(read(data, "errors/ghc-pkg-check-broken.txt"))
    assert diagnosis.cause == "abi"
    assert diagnosis.evidence[0] == "There are problems in package network-bsd-2.8.1.0:"


def test_a_clean_build_log_has_no_cause(data: Path) -> None:
    assert classify_build(read(data, "ganeti/3.1-trixie-build.log")).cause is None


def test_crash_evidence_from_rts_message_and_signal() -> None:
    log = "ok 1\nhtest: internal error: scavenge_stack: weird activation record found on stack: 0\n"
    evidence = crash_evidence(log, 134)
    assert evidence[0].startswith("htest: internal error: scavenge_stack")
    assert evidence[-1] == "exit code 134: killed by SIGABRT"
    assert crash_evidence("1 test failed\n", 1) == ()
    assert signal_of(139) == "SIGSEGV"
    assert signal_of(1) is None


# A Ganeti-shaped tree: `find . -name '*.hs' ...` of the project, relative paths.
GANETI_TREE = ["Main.hs", "src/Ganeti/Config.hs", "src/Ganeti/HTools/Types.hs", "test/hs/Test/Ganeti/Objects.hs"]
SMALL_TREE = ["Main.hs", "Ganeti/Config.hs"]


def test_causes_are_listed_in_precedence_order() -> None:
    assert CAUSES == ("ghc-panic", "deps", "abi", "link", "compile")


# Rule 1: a package of the database that lost a dependency is a broken toolchain (abi), not a missing dependency.

@pytest.mark.parametrize("name", [
    "unusable-package-ghc-flag.log",
    "unusable-package-make.log",
    "unusable-package-make-ghc8.8.log",
    "unusable-package-setup-configure.log",
    "unusable-package-setup-configure-ghc8.8.log",
])
def test_unusable_package_is_a_broken_package_database(data: Path, name: str) -> None:
    diagnosis = classify_build(read(data, f"errors/{name}"), GANETI_TREE)
    assert diagnosis.cause == "abi"
    joined = "\n".join(diagnosis.evidence)
    assert "network-bsd-2.8.1.0" in joined
    assert "unusable due to missing dependencies" in joined or "broken due to missing package" in joined


def test_unusable_package_keeps_the_module_and_the_lost_dependency(data: Path) -> None:
    diagnosis = classify_build(read(data, "errors/unusable-package-make.log"))
    assert diagnosis.evidence[:4] == (
        "    Could not load module ‘Network.BSD’",
        "    It is a member of the package ‘network-bsd-2.8.1.0-8CzOXjBOOvc12P5hpF2ayR’",
        "    which is unusable due to missing dependencies:",
        "      network-3.1.4.0-I6jFfdQwj0Q5FZzAobit5e",
    )


def test_unusable_package_id_is_abi() -> None:
    log = (
        "<command line>: cannot satisfy -package-id network-bsd-2.8.1.0-8CzOXjBOOvc12P5hpF2ayR: \n"
        "    network-bsd-2.8.1.0-8CzOXjBOOvc12P5hpF2ayR is unusable due to missing dependencies:\n"
        "      network-3.1.4.0-I6jFfdQwj0Q5FZzAobit5e\n"
        "    (use -v for more information)\n"
    )
    diagnosis = classify_build(log)
    assert diagnosis.cause == "abi"
    assert diagnosis.evidence[0].startswith("<command line>: cannot satisfy -package-id network-bsd-2.8.1.0")


def test_a_package_that_is_not_installed_stays_deps() -> None:
    diagnosis = classify_build("<command line>: cannot satisfy -package aeson\n    (use -v for more information)\n")
    assert diagnosis.cause == "deps"
    assert diagnosis.evidence == ("<command line>: cannot satisfy -package aeson", "    (use -v for more information)")


def test_a_module_of_a_hidden_package_stays_deps() -> None:
    log = (
        "[12 of 98] Compiling Ganeti.Utils     ( src/Ganeti/Utils.hs, src/Ganeti/Utils.o )\n"
        "\n"
        "src/Ganeti/Utils.hs:70:1: error:\n"
        "    Could not load module ‘Data.Map’\n"
        "    It is a member of the hidden package ‘containers-0.6.7’.\n"
        "    Use -v (or `:set -v` in ghci) to see a list of the files searched for.\n"
        "   |\n"
        "70 | import qualified Data.Map as Map\n"
        "   | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    )
    diagnosis = classify_build(log, GANETI_TREE)
    assert diagnosis.cause == "deps"
    assert "    It is a member of the hidden package ‘containers-0.6.7’." in diagnosis.evidence


# Rule 2: a module GHC cannot find is the project's own fault (compile) when its namespace is the project's.

def test_own_module_by_its_source_file_or_its_namespace() -> None:
    assert own_module("Ganeti.HTools.Types", GANETI_TREE) is True
    assert own_module("Test.Ganeti.Objects", GANETI_TREE) is True
    assert own_module("Main", GANETI_TREE) is True
    assert own_module("Ganeti.Missing", GANETI_TREE) is True  # src/Ganeti holds sources
    assert own_module("Ganeti.HTools.Missing", GANETI_TREE) is True
    assert own_module("Ganeti.Missing", SMALL_TREE) is True
    assert own_module("Ganeti.Missing", ["./Main.hs", "./src/Ganeti/Config.hs"]) is True  # find's own output


def test_own_module_not_for_other_namespaces_or_an_unknown_tree() -> None:
    assert own_module("Data.Aeson", GANETI_TREE) is False
    assert own_module("Ganeti.HTools.Backend.Missing", GANETI_TREE) is False  # no such directory
    assert own_module("Missing", GANETI_TREE) is False  # the tree's root is no namespace
    assert own_module("Ganeti.Missing", []) is False
    assert own_module("Ganeti.Missing", None) is None


def test_missing_own_module_is_a_compile_error(data: Path) -> None:
    diagnosis = classify_build(read(data, "errors/missing-module-own.log"), SMALL_TREE)
    assert diagnosis.cause == "compile"
    assert diagnosis.evidence[:2] == ("Main.hs:2:1: error:", "    Could not find module ‘Ganeti.Missing’")


def test_missing_own_module_in_older_ghc_wording_is_a_compile_error() -> None:
    log = (
        "src/Ganeti/Daemon.hs:40:1: error:\n"
        "    Could not find module `Ganeti.Missing'\n"
        "    Use -v to see a list of the files searched for.\n"
    )
    assert classify_build(log, iter(GANETI_TREE)).cause == "compile"


def test_missing_module_of_another_package_stays_deps(data: Path) -> None:
    diagnosis = classify_build(read(data, "errors/missing-module-other-package.log"), SMALL_TREE)
    assert diagnosis.cause == "deps"
    assert diagnosis.evidence[0] == "    Could not find module ‘Data.Aeson’"


def test_missing_module_without_the_source_tree_stays_deps(data: Path) -> None:
    assert classify_build(read(data, "errors/missing-module-own.log")).cause == "deps"


# Rule 3: older Cabal's wording of missing dependencies.

def test_older_cabal_missing_dependencies_are_deps_with_the_list() -> None:
    log = (
        "Configuring ganeti-2.16.2...\n"
        "Setup: Encountered missing dependencies:\n"
        "aeson >=1.0 && <1.6, lens >=4 && <5.0\n"
        "\n"
        "make: *** [Makefile:5342: dist/setup-config] Error 1\n"
    )
    diagnosis = classify_build(log)
    assert diagnosis.cause == "deps"
    assert diagnosis.evidence == ("Setup: Encountered missing dependencies:", "aeson >=1.0 && <1.6, lens >=4 && <5.0")


def test_resolving_dependencies_is_no_failure() -> None:
    log = (
        "Resolving dependencies...\n"
        "Build profile: -w ghc-9.6.6 -O1\n"
        "In order, the following will be built (use -v for more details):\n"
        " - ganeti-3.1 (lib) (first run)\n"
        "Configuring library for ganeti-3.1..\n"
    )
    assert classify_build(log).cause is None


# Rule 4: an undefined Haskell symbol is a library built against another ABI; an undefined C symbol is a link error.

HSLOGGER_A = ("/usr/lib/haskell-packages/ghc/lib/x86_64-linux-ghc-9.6.6/hslogger-1.3.1.0-2Qd4nbn7ZaH1fX9GnEfpg0/"
              "libHShslogger-1.3.1.0-2Qd4nbn7ZaH1fX9GnEfpg0.a")


def test_undefined_haskell_symbols_are_abi() -> None:
    log = (
        "[98 of 98] Linking exe/htools\n"
        f"/usr/bin/ld: {HSLOGGER_A}(Logger.o):(.text+0x1b3): undefined reference to "
        "`networkzm3zi1zi4zi0zmI6jFfdQwj0Q5FZZzAobit5e_NetworkziSocket_socket_closure'\n"
        f"/usr/bin/ld: {HSLOGGER_A}(Logger.o):(.text+0x2c8): undefined reference to "
        "`networkzm3zi1zi4zi0zmI6jFfdQwj0Q5FZZzAobit5e_NetworkziSocketziTypes_SockAddrInet_con_info'\n"
        "collect2: error: ld returned 1 exit status\n"
        "ghc-9.6.6: `x86_64-linux-gnu-gcc' failed in phase `Linker'. (Exit code: 1)\n"
    )
    diagnosis = classify_build(log)
    assert diagnosis.cause == "abi"
    assert len(diagnosis.evidence) == 2
    assert diagnosis.evidence[0].endswith("_NetworkziSocket_socket_closure'")
    assert diagnosis.evidence[1].endswith("_SockAddrInet_con_info'")


def test_undefined_c_symbol_ending_in_info_stays_link() -> None:
    log = (
        "/usr/bin/ld: /usr/lib/haskell-packages/ghc/lib/x86_64-linux-ghc-9.6.6/curl-1.3.8-5KrGp0lvCnV4fPZtVcbaKu/"
        "libHScurl-1.3.8-5KrGp0lvCnV4fPZtVcbaKu.a(Curl.o):(.text+0x2c1): undefined reference to `curl_version_info'\n"
        "collect2: error: ld returned 1 exit status\n"
    )
    assert classify_build(log).cause == "link"


# Rule 5: a package whose files are gone is a broken installation (abi), even when GHC words it as a missing module.

FILES_MISSING_GHC96 = (
    "src/Ganeti/Daemon.hs:65:1: error:\n"
    "    Could not find module ‘Network.Socket’\n"
    "    There are files missing in the ‘network-3.1.4.0’ package,\n"
    "    try running 'ghc-pkg check'.\n"
    "    Use -v (or `:set -v` in ghci) to see a list of the files searched for.\n"
    "   |\n"
    "65 | import Network.Socket\n"
    "   | ^^^^^^^^^^^^^^^^^^^^^\n"
)
FILES_MISSING_ASCII = (
    "src/Ganeti/Daemon.hs:65:1:\n"
    "    Could not find module `Network.Socket'\n"
    "    There are files missing in the `network-3.1.4.0' package,\n"
    "    try running 'ghc-pkg check'.\n"
    "    Use -v to see a list of the files searched for.\n"
)


@pytest.mark.parametrize("log", [FILES_MISSING_GHC96, FILES_MISSING_ASCII])
def test_files_missing_in_a_package_is_abi(log: str) -> None:
    diagnosis = classify_build(log, GANETI_TREE)
    assert diagnosis.cause == "abi"
    assert any("There are files missing in the" in line and "network-3.1.4.0" in line for line in diagnosis.evidence)


def test_missing_profiling_libraries_stay_deps() -> None:
    log = (
        "src/Ganeti/Daemon.hs:65:1: error:\n"
        "    Could not find module ‘Network.Socket’\n"
        "    Perhaps you haven't installed the profiling libraries for package ‘network-3.1.4.0’?\n"
        "    Use -v (or `:set -v` in ghci) to see a list of the files searched for.\n"
    )
    assert classify_build(log, GANETI_TREE).cause == "deps"


# Rule 6: a GHC panic is a crash of the compiler, whatever else the log says.

def test_ghc_panic_wins_over_compile_errors_and_names_the_version(data: Path) -> None:
    log = read(data, "errors/compile-error.log") + (
        "ghc-9.6.6: panic! (the 'impossible' happened)\n"
        "  GHC version 9.6.6:\n"
        "\tlookupIdSubst\n"
        "  $dShow_a2Bc\n"
        "\n"
        "Please report this as a GHC bug:  https://www.haskell.org/ghc/reportabug\n"
    )
    diagnosis = classify_build(log)
    assert diagnosis.cause == "ghc-panic"
    assert diagnosis.evidence[0] == "ghc-9.6.6: panic! (the 'impossible' happened)"
    assert any("GHC version 9.6.6" in line for line in diagnosis.evidence)


PANIC_GHC88 = (
    "ghc: panic! (the 'impossible' happened)\n"
    "  (GHC version 8.8.4 for x86_64-unknown-linux):\n"
    "\tlinkBCO: >= 64k insns in BCO\n"
    "\n"
    "Please report this as a GHC bug:  https://www.haskell.org/ghc/reportabug\n"
)
PANIC_AS_DIAGNOSTIC = (
    "<no location info>: error:\n"
    "    panic! (the 'impossible' happened)\n"
    "  GHC version 9.6.6:\n"
    "\truntimeRepPrimRep\n"
)


@pytest.mark.parametrize("log, version", [(PANIC_GHC88, "GHC version 8.8.4"), (PANIC_AS_DIAGNOSTIC, "GHC version 9.6.6")])
def test_ghc_panic_in_other_wordings(log: str, version: str) -> None:
    diagnosis = classify_build(log)
    assert diagnosis.cause == "ghc-panic"
    assert any(version in line for line in diagnosis.evidence)


def test_code_that_calls_panic_is_no_ghc_panic() -> None:
    log = (
        "src/Ganeti/Utils.hs:42:15: error: [GHC-88464]\n"
        "    Variable not in scope: panic :: String -> Maybe Int\n"
        "   |\n"
        "42 |   Nothing -> panic \"the 'impossible' happened\"\n"
        "   |              ^^^^^\n"
    )
    assert classify_build(log).cause == "compile"


# Rule 7: crash lines are what the shell and the RTS print, not any line that mentions a crash.

@pytest.mark.parametrize("line", [
    "Aborted (core dumped)",
    "Segmentation fault (core dumped)",
    "sh: line 1: 1234 Aborted                 (core dumped) ./htest",
    "/bin/bash: line 1:  1234 Segmentation fault      ./htest",
    "htest: internal error: scavenge_stack: weird activation record found on stack: 0",
    "Segmentation fault",
    "1/1 htest FAIL            0.12s   (killed by signal 11 SIGSEGV)",
])
def test_crash_lines(line: str) -> None:
    assert crash_evidence(f"Test.Ganeti.Objects:\n  prop_serialisation: [OK]\n{line}\n", 1) == (line,)


@pytest.mark.parametrize("line", [
    "  prop_Aborted: [Failed]",
    "Aborted connection 12 to db: 'ganeti' user: 'root' host: 'localhost' (Got an error reading communication packets)",
    "  test_segmentation_fault_handler: [OK]",
])
def test_lines_that_only_mention_a_crash(line: str) -> None:
    assert crash_evidence(f"{line}\n 1 test failed\n", 1) == ()


# Rule 8: only 128 + n (or -n) with n a signal number is a signal.

@pytest.mark.parametrize("code, signal", [
    (134, "SIGABRT"), (137, "SIGKILL"), (139, "SIGSEGV"), (129, "signal 1"), (192, "signal 64"),
    (-11, "SIGSEGV"), (-6, "SIGABRT"), (-64, "signal 64"),
])
def test_signal_of_a_signal(code: int, signal: str) -> None:
    assert signal_of(code) == signal


@pytest.mark.parametrize("code", [255, 1, 0, 127, 128, 193, -65])
def test_signal_of_an_exit(code: int) -> None:
    assert signal_of(code) is None


def test_exit_255_is_no_crash() -> None:
    assert crash_evidence("htest: user error (failed to connect)\n", 255) == ()


def test_a_shared_namespace_alone_does_not_make_a_module_the_projects() -> None:
    ganeti = ["src/Ganeti/Config.hs", "test/hs/Test/AutoConf.hs", "test/hs/Test/Ganeti/Objects.hs"]
    assert own_module("Test.QuickCheck", ganeti) is False
    assert own_module("Test.HUnit", ganeti) is False
    assert own_module("Test.Ganeti.Missing", ganeti) is True
    assert own_module("Test.AutoConf", ganeti) is True
    log = "test/hs/htest.hs:5:1: error:\n    Could not find module ‘Test.Framework’\n"
    assert classify_build(log, ganeti).cause == "deps"


# Rule 9: logs come from containers the tool does not control; reading one is bounded whatever it holds.

def test_rewritten_patterns_still_read_their_messages() -> None:
    assert classify_build("[__1] rejecting: pandoc-3.1.8, pandoc-3.1.7, " + "pandoc-3.1.6, " * 100
                          + "pandoc-2.0 (conflict: ganeti => pandoc<2)\n").cause == "deps"
    assert classify_build("configure: error: Required Haskell modules not found: Network.Curl\n").cause == "deps"
    assert classify_build("/usr/bin/ld: Foo.o: relocation R_X86_64_32 against symbol `bar' which may bind externally "
                          "can not be used when making a shared object; recompile with -fPIC\n").cause == "link"
    assert classify_build("/usr/bin/ld: relocation R_X86_64_32 against `.rodata' can not be used\n").cause == "link"


def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


# Each took seconds to minutes before: A.*B reads to the line's end from every A (.*'s quadratic or cubic time).
HOSTILE = ["relocation against ", "rejecting: ", "configure: error: ", "undefined reference to `az", "E: Package '",
           "a.hs:1", "x: line 1: ", "dependency \""]


@pytest.mark.parametrize("fragment", HOSTILE)
def test_a_line_repeating_a_pattern_is_read_in_linear_time(fragment: str) -> None:
    line = fragment * (19_000 // len(fragment))  # 19 KB on one line
    # A bound to catch quadratic or exponential behaviour, not a benchmark: each takes milliseconds.
    assert timed(lambda: classify_build(line)) < 5
    assert timed(lambda: crash_evidence(line, 139)) < 5


GHC_LINE = "[ 12 of 186] Compiling Ganeti.Query.Server ( src/Ganeti/Query/Server.hs, dist/Server.o )\n"


@pytest.mark.parametrize("log", [
    pytest.param(lambda: GHC_LINE * 570_000, id="50 MB of a build"),
    pytest.param(lambda: "".join(GHC_LINE * 9 + fragment * (2_000 // len(fragment)) + "\n" for fragment in HOSTILE) * 2_600,
                 id="50 MB with hostile lines"),
    pytest.param(lambda: "x" * 50_000_000, id="one 50 MB line"),
    pytest.param(lambda: "\n" * 50_000_000, id="50 million empty lines"),
])
def test_a_huge_log_is_read_within_a_bound(log: Callable[[], str]) -> None:
    text = log()
    assert len(text) >= 50_000_000
    assert timed(lambda: classify_build(text)) < 5
    assert timed(lambda: crash_evidence(text, 139)) < 5


def test_the_cause_is_read_in_the_first_and_the_last_lines_of_a_huge_log() -> None:
    deps = "Setup: Encountered missing dependencies:\naeson >=1.0\n"
    link = "/usr/bin/ld: cannot find -lcurl: No such file or directory\n"
    assert classify_build(deps + GHC_LINE * (HEAD_LINES + TAIL_LINES)).cause == "deps"
    assert classify_build(GHC_LINE * (HEAD_LINES + TAIL_LINES) + link).cause == "link"
    # Between the two windows a line is not read: that is the bound.
    assert classify_build(GHC_LINE * HEAD_LINES + link + GHC_LINE * TAIL_LINES).cause is None
    assert classify_build(GHC_LINE * (HEAD_LINES - 1) + link + GHC_LINE * TAIL_LINES).cause == "link"
    assert classify_build(GHC_LINE * HEAD_LINES + link + GHC_LINE * (TAIL_LINES - 1)).cause == "link"
    assert crash_evidence("Segmentation fault\n" + GHC_LINE * 50_000, 1) == ("Segmentation fault",)


def test_log_lines_is_the_window_of_splitlines() -> None:
    for log in ["", "a", "a\n", "a\r\nb\rc\n\n", "x\n" * (HEAD_LINES + TAIL_LINES), "x\n" * (HEAD_LINES + TAIL_LINES + 1),
                "\r" * (HEAD_LINES + TAIL_LINES + 5), "".join(f"{n}\n" for n in range(30_000))]:
        lines = log.splitlines()
        window = lines if len(lines) <= HEAD_LINES + TAIL_LINES else lines[:HEAD_LINES] + [""] + lines[-TAIL_LINES:]
        assert log_lines(log) == window


def test_a_pattern_looks_at_the_first_characters_of_a_line() -> None:
    assert classify_build("x" * (MAX_SCAN - 30) + "cannot find -lcurl\n").cause == "link"
    assert classify_build("x" * MAX_SCAN + "cannot find -lcurl\n").cause is None


# GHC 7.10 on Template Haskell that calls newName on a keyword (GHC #10599), as GHC 7.10 words it (reported in
# yesodweb/persistent#412): the location alone on its line, the message indented below it.
TH_KEYWORD = ("src/Ganeti/Objects.hs:120:1:", "    Illegal variable name: ‘type’", "    When splicing a TH declaration:",
              "      type_0 :: GHC.Base.String")


def test_a_keyword_given_to_newName_is_a_compile_error_with_its_location() -> None:
    log = "\n".join(["[ 5 of 80] Compiling Ganeti.Objects ( src/Ganeti/Objects.hs, src/Ganeti/Objects.o )", "",
                     *TH_KEYWORD, "make: *** [src/Ganeti/Objects.o] Error 1"])
    diagnosis = classify_build(log)
    assert diagnosis.cause == "compile"
    assert diagnosis.evidence[:2] == ("src/Ganeti/Objects.hs:120:1:", "    Illegal variable name: ‘type’")


def test_a_keyword_given_to_newName_is_a_compile_error_also_parted_from_its_location_by_parallel_make() -> None:
    # make -j writes another job's lines between the location and the message; in the C locale GHC quotes `so'.
    location, _, *rest = TH_KEYWORD
    log = "\n".join([location, "ghc -c src/Ganeti/Utils.hs", "    Illegal variable name: `type'", *rest,
                     "make: *** [src/Ganeti/Objects.o] Error 1"])
    diagnosis = classify_build(log)
    assert diagnosis.cause == "compile"
    assert diagnosis.evidence[0] == "src/Ganeti/Objects.hs:120:1:"
    assert "    Illegal variable name: `type'" in diagnosis.evidence
    # Nor does the message need its location line in view (cut out of the log's window).
    alone = classify_build("\n    Illegal variable name: ‘data’\nmake: *** [all] Error 2")
    assert alone == Diagnosis("compile", ("    Illegal variable name: ‘data’",))
    assert classify_build("Illegal type variable name: `'\n").cause == "compile"  # GHC 7.4's wording of its kind
