"""Reading .cabal files as Setup configure would, and checking pinned sdists as an offline closure."""

from __future__ import annotations

from pathlib import Path

import pytest

from compat import matrix
from compat.analysis.cabal import Package, Platform, check_pins, read_cabal
from compat.analysis.versions import parse_range, satisfies, version
from compat.images import ImageBuildFailed, plan_image
from compat.pins import PROBLEM, boot_packages, plan_hackage
from compat.planning import with_pins
from compat.verdict import CellOutcome, Step, judge
from tests.conftest import ROOT
from tests.sdists import ALPHA, ZETA, write_sdist

GHC710 = Platform((7, 10, 2))
GHC78 = Platform((7, 8, 4))


def depends(text: str, platform: Platform = GHC710) -> list[tuple[str, str]]:
    return [(d.name, d.written) for d in read_cabal(text, platform).depends]


HEAD = "name: demo\nversion: 1.2\n"


def test_conditions_are_decided_for_the_platform_and_the_flags_defaults() -> None:
    text = HEAD + """description:
  A description line that looks like a field: or a section
  if flag(never)
flag network-uri
  description: split out
  default: True
flag old
  default: False
  manual: True
library
  build-depends: base >= 4 && < 5,
                 bytestring (>= 0.9 && < 0.11) || >= 0.10.4
  if flag(network-uri)
    build-depends: network-uri >= 2.6, network >= 2.6
  else
    build-depends: network < 2.6
  if impl(ghc < 7.10)
    build-depends: nats >= 0.1
  if os(windows)
    build-depends: Win32
  elif os(linux) && arch(x86_64) && !flag(old)
    Build-Depends: unix
  else
    build-depends: never-taken
"""
    assert depends(text) == [("base", ">= 4 && < 5"), ("bytestring", "(>= 0.9 && < 0.11) || >= 0.10.4"),
                             ("network-uri", ">= 2.6"), ("network", ">= 2.6"), ("unix", "-any")]
    assert ("nats", ">= 0.1") in depends(text, GHC78)


def test_executables_and_setup_count_test_suites_and_benchmarks_do_not() -> None:
    text = HEAD + """library
  build-depends: base
executable demo
  build-depends: demo, mtl == 2.2.*
executable gone
  buildable: False
  build-depends: never
executable sometimes
  if impl(ghc >= 7.10)
    buildable: False
  build-depends: only-before-ghc-seven-ten
custom-setup
  setup-depends: Cabal >= 1.22
test-suite t
  build-depends: QuickCheck
benchmark b
  build-depends: criterion
source-repository head
  type: git
"""
    # An executable's dependency on its own package's library is no dependency on another package.
    assert depends(text) == [("base", "-any"), ("mtl", "== 2.2.*"), ("Cabal", ">= 1.22")]
    assert ("only-before-ghc-seven-ten", "-any") in depends(text, GHC78)


def test_an_old_file_without_sections_and_one_in_braces() -> None:
    assert depends(HEAD + "build-depends: base < 5, haskell98\nexposed-modules: A\n") == [
        ("base", "< 5"), ("haskell98", "-any")]
    braces = HEAD + """Flag base4 {
  Default: True
}
Library {
  if flag(base4) {
    Build-Depends: base >=4&&<5
  } else {
    Build-Depends: base < 4
  }
}
"""
    assert depends(braces) == [("base", ">=4&&<5")]




def test_a_description_is_text_whatever_braces_or_line_separators_it_holds() -> None:
    text = HEAD + """synopsis: Records {with braces}
description:
  A record, as a Haddock code block:
  .
  > data Config = Config {
  >     verbose :: Bool
  >   }
  }
  .
  One paragraph\u2028with a line separator in it.
  {
flag old-base
  description: base < 4.8 {before the AMP}
  default: False
library
  build-depends: base >= 4.8 && < 5
  if flag(old-base)
    build-depends: nats >= 1
executable demo
  build-depends: mtl == 2.2.*
"""
    package = read_cabal(text.replace("default: False", "default: False  "), GHC710)  # as hand-written files have
    assert [(d.name, d.written) for d in package.depends] == [("base", ">= 4.8 && < 5"), ("mtl", "== 2.2.*")]
    assert [dict(flags) for flags, _ in package.variants] == [{"old-base": False}, {"old-base": True}]


def test_braces_are_layout_only_where_cabal_lexes_them() -> None:
    # A section's `{` on the next line, a section and a field on one line, a field's value in braces, a comment
    # after a section's header, CRLF line ends and a byte order mark.
    text = "\ufeff" + HEAD.replace("\n", "\r\n") + """library -- the library
{
  build-depends:
    base >= 4 && < 5,
    bytestring
  if os(windows) { build-depends: Win32 }
  else { build-depends: unix }
}
executable demo { build-depends: mtl }
custom-setup
  setup-depends: { Cabal >= 1.22,
                   directory }
"""
    assert depends(text) == [("base", ">= 4 && < 5"), ("bytestring", "-any"), ("unix", "-any"), ("mtl", "-any"),
                             ("Cabal", ">= 1.22"), ("directory", "-any")]


@pytest.mark.parametrize("condition, on710, on78", [
    ("impl(ghc >= 7.10)", True, False),
    ("impl(ghc>=7.10)", True, False),  # distributive-0.4.4, void-0.7
    ("impl( ghc >=7.10 )", True, False),
    ("impl(ghc>= 7.10 && <7.11)", True, False),
    ("!impl(ghc<7.6)", True, True),
    ("!impl(ghc>7.9)", False, True),
    ("flag(tagged)&&impl(ghc>7)", True, True),
    ("impl(ghc)", True, True),
    ("impl(ghcjs)", False, False),
    ("impl(GHC==7.8.*)", False, True),
])
def test_impl_reads_the_same_whatever_its_spacing(condition: str, on710: bool, on78: bool) -> None:
    text = HEAD + f"""flag tagged
  default: True
library
  build-depends: base
  if {condition}
    build-depends: taken
  else
    build-depends: not-taken
"""
    assert [depends(text, platform)[1][0] for platform in (GHC710, GHC78)] == [
        "taken" if on710 else "not-taken", "taken" if on78 else "not-taken"]


@pytest.mark.parametrize("text, said", [
    (HEAD + "common deps\n  build-depends: base\n", "common stanzas are not read"),
    (HEAD + "library\n  if flag(undeclared)\n    build-depends: x\n", r"flag\(undeclared\) is not declared"),
    (HEAD + "library\n  if os(linux) &&\n    build-depends: x\n", "not a condition"),
    (HEAD + "library\n  else\n    build-depends: x\n", "else without if"),
    (HEAD + "library\n  build-depends: base >= four\n", "not a version range"),
    ("version: 1\nlibrary\n  build-depends: base\n", "no name"),
    (HEAD + "library\n  }\n", "braces out of place"),
])
def test_what_cannot_be_read_is_said(text: str, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        read_cabal(text, GHC710)



@pytest.mark.parametrize("text, said", [
    (HEAD + "librar\n  build-depends: base\n", "demo.cabal:3: unknown section 'librar'"),
    (HEAD + "flag old-base\n  default: yes\n", "demo.cabal:4: neither True nor False: 'yes'"),
    (HEAD + "flag\n  default: False\n", "demo.cabal:3: a flag section names one flag"),
    (HEAD + "library\n  build-depends: base\n  buildable: no\n", "demo.cabal:5: neither True nor False: 'no'"),
    (HEAD + "library\n  if os(windows)\n    build-depends: Win32\n  else if os(linux)\n    build-depends: unix\n",
     "demo.cabal:6: else takes no condition: else if os[(]linux[)]"),
    # In a branch this platform does not take, too: Setup configure reads every branch.
    (HEAD + "library\n  if os(windows)\n    if compiler(ghc)\n      build-depends: Win32\n",
     r"demo.cabal:5: not a condition: 'compiler\(ghc\)'"),
    (HEAD + "library\n  if os(windows)\n    build-depends: Win32 >= two\n", "demo.cabal:5: not a version range"),
    (HEAD + "library\n  if impl(ghc >= 7.10) ||\n    build-depends: nats\n",
     "demo.cabal:4: not a condition: nothing where one is wanted"),
    # A description's line that is not indented ends the field: Cabal reads it as the next field or section.
    (HEAD + "description:\n  A record:\n> data Foo = Foo {\nlibrary\n  build-depends: base\n",
     "demo.cabal:5: '>' out of place: '> data Foo = Foo {'"),
    (HEAD + "library\n  build depends: base\n", "demo.cabal:4: ':' out of place"),
    (HEAD + "library {\n  build-depends: base\n", "demo.cabal:5: no '}' closes the '{' of line 3"),
    (HEAD + "library\n  hs-source-dirs: src\n  exposed modules\n    A\n",
     "demo.cabal:5: neither a field nor a condition"),
    (HEAD + "library\n  build-depends: base\x0c\n", r"demo.cabal:4: a control character '\\x0c'"),
    ("name: demo\nversion: 1.2a\n", "demo.cabal:2: not a version: '1.2a'"),
    ("version: 1.2\nlibrary\n  build-depends: base\n", "the .cabal file: no name: or version: field"),
])
def test_what_cannot_be_read_is_said_at_its_file_and_line(text: str, said: str) -> None:
    with pytest.raises(ValueError, match=f"^{said}"):
        read_cabal(text, GHC710)
    with pytest.raises(ValueError, match="^pkgs/demo-1.2/demo.cabal"):
        read_cabal(text, GHC710, file="pkgs/demo-1.2/demo.cabal")


def test_ranges_with_parentheses_and_none() -> None:
    wanted = parse_range("(>= 1.1 && < 1.2) || (>= 1.2.1 && <1.3)")
    assert [satisfies(version(v), wanted) for v in ("1.1.5", "1.2", "1.2.1", "1.3")] == [True, False, True, False]
    assert not satisfies((1,), parse_range("-none"))
    with pytest.raises(ValueError, match="not a version range"):
        parse_range("(>= 1.1 && < 1.2")



@pytest.mark.parametrize("text, inside, outside", [
    # Cabal's major version is the first two components: ^>= 4 is >= 4 && < 4.1, never < 5.
    ("^>= 4", ["4", "4.0", "4.0.9.9"], ["3.9", "4.1", "4.8.1.0", "5"]),
    ("^>= 1.2.3", ["1.2.3", "1.2.3.1", "1.2.99"], ["1.2.2", "1.3", "2.0"]),
    ("^>=0.10", ["0.10", "0.10.8.1"], ["0.9.1", "0.11"]),
])
def test_a_major_bound_ends_below_the_next_major_version(text: str, inside: list[str], outside: list[str]) -> None:
    bound = read_cabal(HEAD + f"library\n  build-depends: base {text}\n", GHC710).depends[0].wanted
    assert [satisfies(version(v), bound) for v in inside + outside] == [True] * len(inside) + [False] * len(outside)
    with pytest.raises(ValueError, match="a wildcard only follows =="):
        parse_range("^>= 1.2.*")


TEXT = """name: text
version: 1.2.1.3
flag integer-simple
  description: no default: True, as Cabal takes it
flag developer
  default: False
  manual: True
library
  build-depends: base < 5
  if flag(integer-simple)
    build-depends: integer-simple >= 0.1 && < 0.5
  else
    build-depends: integer-gmp >= 0.2
  if flag(developer)
    build-depends: never-flipped
"""


def test_an_automatic_flag_is_turned_as_setup_configure_turns_it_a_manual_one_never() -> None:
    package = read_cabal(TEXT, GHC710)
    assert [dict(flags) for flags, _ in package.variants] == [{"integer-simple": True, "developer": False},
                                                              {"integer-simple": False, "developer": False}]
    boot = {"base": (4, 8, 1, 0), "integer-gmp": (1, 0, 0, 0)}
    assert check_pins([package], boot, "GHC 7.10.2").problems == ()
    assert check_pins([package], {"base": (4, 8, 1, 0)}, "GHC 7.10.2").problems == (
        "integer-simple is neither pinned nor shipped with GHC 7.10.2: wanted by text-1.2.1.3 (>= 0.1 && < 0.5)",)


def pin(ident: str, *wanted: str) -> Package:
    from compat.analysis.cabal import Dependency
    name, _, number = ident.rpartition("-")
    deps = []
    for entry in wanted:
        dep, _, written = entry.partition(" ")
        deps.append(Dependency(dep, written or "-any", parse_range(written)))
    return Package(name, version(number), (((), tuple(deps)),))


def test_pins_are_checked_against_each_other_and_ghc_and_ordered() -> None:
    pins = [pin("lens-4.9.1", "base >= 4.5", "mtl >= 2.2", "vector >= 0.11 && < 0.12"),
            pin("mtl-2.2.1", "transformers == 0.4.*"), pin("vector-0.10.12.3", "primitive"),
            pin("aeson-0.8", "lens", "text")]
    boot = {"base": (4, 7, 0, 2), "transformers": (0, 3, 0, 0)}
    checked = check_pins(pins, boot, "GHC 7.8.4")
    assert checked.problems == ("lens-4.9.1 wants vector >= 0.11 && < 0.12: 0.10.12.3 pinned",
                                "mtl-2.2.1 wants transformers == 0.4.*: 0.3.0.0 shipped with GHC 7.8.4",
                                "primitive is neither pinned nor shipped with GHC 7.8.4: wanted by vector-0.10.12.3 (-any)",
                                "text is neither pinned nor shipped with GHC 7.8.4: wanted by aeson-0.8 (-any)")
    assert checked.order == ("mtl-2.2.1", "vector-0.10.12.3", "lens-4.9.1", "aeson-0.8")
    # GHC's packages unknown: only the pins are checked against each other.
    assert check_pins(pins, None, "GHC 7.8.4").problems == ("lens-4.9.1 wants vector >= 0.11 && < 0.12: 0.10.12.3 pinned",)


def test_a_package_pinned_twice_and_a_cycle_are_said() -> None:
    checked = check_pins([pin("a-1", "b"), pin("b-1", "a"), pin("a-2")], {}, "GHC 7.10.2")
    assert checked.problems == ("a is pinned twice: a-1 and a-2", "the pins need each other in a cycle: a-1, b-1")
    assert sorted(checked.order) == ["a-1", "b-1"]


def test_the_boot_packages_of_the_bindists_are_recorded() -> None:
    ghc710, ghc78 = boot_packages("7.10.2"), boot_packages("7.8.4")
    assert ghc710 is not None and ghc78 is not None
    assert (ghc710["base"], ghc710["Cabal"], ghc710["transformers"]) == ((4, 8, 1, 0), (1, 22, 4, 0), (0, 4, 2, 0))
    assert (ghc78["base"], ghc78["Cabal"], ghc78["old-time"]) == ((4, 7, 0, 2), (1, 18, 1, 5), (1, 1, 0, 2))
    assert "mtl" not in ghc710 and "text" not in ghc78 and boot_packages("6.12.3") is None


def test_sdists_are_read_from_their_tarballs_and_ordered(tmp_path: Path) -> None:
    sdists = {f"{ident}.tar.gz": write_sdist(tmp_path, ident, files)
              for ident, files in (("compat-alpha-1.0", ALPHA), ("compat-zeta-0.1", ZETA))}
    plan = plan_hackage("7.10.2", sdists)
    assert plan.order == ("compat-zeta-0.1.tar.gz", "compat-alpha-1.0.tar.gz")
    assert plan.problems == () and plan.notes == ()
    # Without zeta, alpha's need of it is said; the flag that wants compat-nowhere is off either way.
    alone = plan_hackage("7.10.2", {"compat-alpha-1.0.tar.gz": sdists["compat-alpha-1.0.tar.gz"]})
    said = "compat-zeta is neither pinned nor shipped with GHC 7.10.2: wanted by compat-alpha-1.0 (>= 0.1 && < 0.2)"
    assert alone.problems == (said,)


def test_an_sdist_whose_cabal_file_cannot_be_read_goes_last_and_is_said(tmp_path: Path) -> None:
    sdists = {"compat-zeta-0.1.tar.gz": write_sdist(tmp_path, "compat-zeta-0.1", ZETA),
              "odd-1.tar.gz": write_sdist(tmp_path, "odd-1", {"README": "no cabal file\n"}),
              "broken-1.tar.gz": tmp_path / "broken-1.tar.gz"}
    sdists["broken-1.tar.gz"].write_bytes(b"not gzip")
    plan = plan_hackage("9.9.9", sdists)
    assert plan.order == ("compat-zeta-0.1.tar.gz", "broken-1.tar.gz", "odd-1.tar.gz")
    assert plan.notes[0].startswith("broken-1.tar.gz: its .cabal cannot be read (")
    assert plan.notes[1] == ("odd-1.tar.gz: its .cabal cannot be read (no odd-1/odd.cabal in it); installed last, "
                             "its dependencies unchecked")
    assert plan.notes[2].startswith("GHC 9.9.9's own packages are not recorded in ")


def test_pins_that_are_no_closure_fail_the_image_as_deps_before_it_is_built(tmp_path: Path) -> None:
    m = matrix.load(ROOT / "matrix.yaml")
    plan = plan_image(m.toolchains["ghc710"], m.recipes["ganeti-2.x"])
    log = tmp_path / "image.log"
    alpha = {"compat-alpha-1.0.tar.gz": write_sdist(tmp_path, "compat-alpha-1.0", ALPHA)}
    with pytest.raises(ImageBuildFailed, match="cannot be installed offline: compat-zeta is neither") as failed:
        with_pins(plan, alpha, log)
    assert log.read_text().startswith(PROBLEM + "compat-zeta is neither pinned")
    verdict = judge(CellOutcome(steps=(Step("image", 1, failed.value.log_text),)))
    assert (verdict.status, verdict.cause) == ("build-fail", "deps")
    assert verdict.evidence == (PROBLEM + "compat-zeta is neither pinned nor shipped with GHC 7.10.2: wanted by "
                                "compat-alpha-1.0 (>= 0.1 && < 0.2)",)
    zeta = {"compat-zeta-0.1.tar.gz": write_sdist(tmp_path, "compat-zeta-0.1", ZETA)}
    ordered = with_pins(plan, {**alpha, **zeta}, log)
    assert ordered.files["hackage-order.txt"] == b"compat-zeta-0.1.tar.gz\ncompat-alpha-1.0.tar.gz\n"
    assert ordered.digest("base") != plan.digest("base")  # the order is part of what the image is built from
