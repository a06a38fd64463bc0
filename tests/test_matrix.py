from __future__ import annotations

import re
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml

from compat import matrix
from compat.errors import ConfigError
from compat.runner import expand
from tests.conftest import ROOT


def load_default() -> dict:
    return yaml.safe_load((ROOT / "matrix.yaml").read_text())


def error_for(data: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        matrix.parse(data, Path("matrix.yaml"))
    return str(caught.value)


def test_default_matrix_has_the_toolchains_the_packagers_expect() -> None:
    m = matrix.load(ROOT / "matrix.yaml")
    assert list(m.toolchains) == ["ghc78", "ghc710", "ghc88", "ghc90", "ghc96", "ghc910"]
    assert {t.kind for n, t in m.toolchains.items() if n in ("ghc78", "ghc710")} == {"bindist"}
    assert m.toolchains["ghc96"].suite == "trixie"
    assert m.default_sources == ("ganeti-3.1", "ganeti-3.0.2")
    assert set(m.flavors) == {"gnutls", "openssl"}


def test_every_bindist_download_is_pinned_and_shared_pins_are_spliced() -> None:
    m = matrix.load(ROOT / "matrix.yaml")
    for name in ("ghc78", "ghc710"):
        downloads = m.toolchains[name].downloads
        assert downloads[0].name == "ghc"
        assert all(d.sha256 or d.sha1 for d in downloads)
        assert any(d.name == "curl-1.3.8.tar.gz" and d.sha256 for d in downloads)
    assert m.toolchains["ghc78"].downloads[0].sha256 == "20b5731d268613bbf6e977dbb192a3a3b7b78d954c35edbfca4fb36b652e24f7"


def test_a_further_flavor_relinks_every_binary_the_ganeti_31_recipe_inspects() -> None:
    # The relink names Cabal components; a binary left out would be missing from the further flavor's cell.
    recipe = matrix.load(ROOT / "matrix.yaml").recipes["ganeti-3.1"]
    relinked = {arg.removeprefix("exe:") for argv in recipe.relink for arg in argv if arg.startswith("exe:")}
    assert {Path(binary).name for binary in recipe.binaries} <= relinked
    assert "hs2py" in relinked  # the build's make writes the Python htest reads with it


def test_misspelled_flavor_names_the_path_and_suggests() -> None:
    data = load_default()
    data["toolchains"]["ghc710"]["flavors"] = ["openssl", "gnutsl"]
    assert error_for(data) == ("matrix.yaml: toolchains.ghc710.flavors[1]: unknown flavor 'gnutsl' "
                               "(did you mean 'gnutls'?)")


def test_misspelled_key_is_named_with_a_suggestion() -> None:
    data = load_default()
    data["toolchains"]["ghc96"]["suit"] = data["toolchains"]["ghc96"].pop("suite")
    message = error_for(data)
    assert message.startswith("matrix.yaml: toolchains.ghc96.suit: unknown key (did you mean 'suite'?)")


def test_a_git_source_is_pinned_by_a_commit_and_named_by_a_ref() -> None:
    data = load_default()
    data["sources"]["ganeti-2.16.2"]["commit"] = "76F6105"
    assert error_for(data) == ("matrix.yaml: sources.ganeti-2.16.2.commit: '76F6105' is not a 40-digit lowercase hex "
                               "commit")
    data = load_default()
    data["sources"]["ganeti-3.1"]["commit"] = "0" * 40
    assert error_for(data) == "matrix.yaml: sources.ganeti-3.1.commit: only a 'git' source is pinned by commit"
    for ref in ("-v2", "a..b", "v2/", "v 2", "--upload-pack=x"):
        data = load_default()
        data["sources"]["ganeti-2.16.2"]["ref"] = ref
        assert error_for(data).startswith(f"matrix.yaml: sources.ganeti-2.16.2.ref: {ref!r} is not a git ref"), ref


def test_unpinned_download_is_refused() -> None:
    data = load_default()
    del data["toolchains"]["ghc710"]["downloads"][0]["sha1"]
    assert error_for(data) == "matrix.yaml: toolchains.ghc710.downloads[0]: a download must be pinned: give sha256 (or sha1)"


def test_bad_checksum_text_is_refused() -> None:
    data = load_default()
    data["toolchains"]["ghc78"]["downloads"][0]["sha256"] = "abc"
    assert "toolchains.ghc78.downloads[0].sha256: 'abc' is not a 64-digit lowercase hex sha256" in error_for(data)


def test_source_kinds_need_their_fields() -> None:
    data = load_default()
    data["sources"]["mine"] = {"kind": "tarball", "url": "https://example.org/g.tar.gz", "recipe": "ganeti-3.1"}
    assert error_for(data) == "matrix.yaml: sources.mine: a 'tarball' source needs 'sha256'"


def test_unknown_recipe_and_placeholder() -> None:
    data = load_default()
    data["sources"]["ganeti-3.1"]["recipe"] = "ganeti-31"
    assert "sources.ganeti-3.1.recipe: unknown recipe 'ganeti-31' (did you mean 'ganeti-3.1'?)" in error_for(data)
    data = load_default()
    data["recipes"]["ganeti-3.1"]["steps"]["test"] = [["exe/htest", "--jxml={output}/x.xml"]]
    assert "recipes.ganeti-3.1.steps.test[0][1]: unknown placeholder '{output}'" in error_for(data)


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    bad = tmp_path / "m.yaml"
    bad.write_text("toolchains:\n  ghc96: [\n")
    with pytest.raises(ConfigError, match=r"m.yaml: line \d+, column \d+: not valid YAML"):
        matrix.load(bad)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        matrix.load(tmp_path / "nope.yaml")


def test_a_new_toolchain_is_a_few_lines_of_yaml() -> None:
    data = load_default()
    data["toolchains"]["ghc912"] = {"kind": "debian", "suite": "experimental", "ghc": "9.12.2", "flavors": ["gnutls"]}
    m = matrix.parse(data, Path("matrix.yaml"))
    assert m.toolchains["ghc912"].default_flavor == "gnutls"
    assert m.toolchains["ghc912"].description == "GHC 9.12.2 (debian, experimental)"


# Hostile or mistaken files: each ends as one ConfigError line naming the file, where, and what to do.

REAL = (ROOT / "matrix.yaml").read_text()


def short(value: object) -> str:
    """A test id that stays readable for a 10,000-character input."""
    return repr(value)[:24]


def load_error(tmp_path: Path, text: str | bytes) -> str:
    """The one line `load` says about a file holding text."""
    file = tmp_path / "m.yaml"
    file.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError) as caught:
        matrix.load(file)
    message = str(caught.value)
    assert message.startswith(f"{file}: ") and "\n" not in message
    return message.removeprefix(f"{file}: ")


@pytest.mark.parametrize("name", ["../../x", "/abs", "a/b", "a--b", "x" * 64, "x" * 300, "Ghc96", "-ghc", ".ghc",
                                  "ghc 96", "ghc96\n", "ghc:96", ""], ids=short)
def test_a_toolchain_name_that_cannot_be_a_tag_or_file_name_is_refused(name: str) -> None:
    data = load_default()
    data["toolchains"][name] = data["toolchains"].pop("ghc88")
    message = error_for(data)
    assert message.startswith("matrix.yaml: toolchains") and "not a valid name: a name is 1 to 63 characters: a-z and 0-9" in message
    assert "\n" not in message and len(message) < 250


@pytest.mark.parametrize("section, old", [("sources", "ganeti-3.1"), ("recipes", "ganeti-3.0"), ("flavors", "gnutls")])
def test_source_recipe_and_flavor_names_follow_the_same_rule(section: str, old: str) -> None:
    data = load_default()
    data[section]["a--b"] = data[section].pop(old)
    assert error_for(data).startswith(f"matrix.yaml: {section}.a--b: not a valid name")


@pytest.mark.parametrize("section, old", [("toolchains", "ghc88"), ("sources", "ganeti-3.1"), ("flavors", "gnutls")])
def test_all_selects_every_name_and_is_never_a_name(section: str, old: str) -> None:
    data = load_default()
    data[section]["all"] = data[section].pop(old)
    assert error_for(data) == (f"matrix.yaml: {section}.all: 'all' selects every name on the command line "
                               "(--toolchain all): choose another name")


@pytest.mark.parametrize("name", ["matrix", "report", "nightly", "tests", "fetch"])
def test_a_toolchain_may_not_take_the_name_of_one_of_the_tools_own_sessions(name: str) -> None:
    data = load_default()
    data["toolchains"][name] = data["toolchains"].pop("ghc88")
    assert error_for(data) == (f"matrix.yaml: toolchains.{name}: '{name}' is one of the tool's own names (nox "
                               "sessions, the fetch helper's image: matrix, report, nightly, tests, fetch): choose "
                               "another name")


def test_the_fetch_suite_is_a_suite_name() -> None:
    data = load_default()
    assert matrix.parse(data, Path("matrix.yaml")).fetch_suite == "bookworm"
    data["fetch_suite"] = "trixie"
    assert matrix.parse(data, Path("matrix.yaml")).fetch_suite == "trixie"
    data["fetch_suite"] = "Trixie; rm"
    assert error_for(data).startswith("matrix.yaml: fetch_suite: ")


def test_the_longest_names_and_every_allowed_character_pass() -> None:
    data = load_default()
    longest = "g" * 63
    data["toolchains"][longest] = data["toolchains"].pop("ghc88")
    data["toolchains"]["ghc9.12.rc1_x-y"] = data["toolchains"].pop("ghc90")
    assert {longest, "ghc9.12.rc1_x-y"} <= set(matrix.parse(data, Path("matrix.yaml")).toolchains)


def test_valid_name_and_run_id_patterns() -> None:
    assert matrix.valid_name("ghc96") and matrix.valid_name("ganeti-3.0.2") and matrix.valid_name("9")
    assert not any(matrix.valid_name(n) for n in ("Ghc96", "a--b", "../x", "", "x" * 64, "ghc96\n", None,
                                                  # not a Docker image name or volume name: ghc9.12+rc1, a..b, a.-b, a_
                                                  "ghc9.12+rc1", "a..b", "a.-b", "a_", "a-"))
    assert not re.fullmatch(matrix.RUN_ID, "nightly+1")  # a run id is part of the run's volume names
    assert re.fullmatch(matrix.RUN_ID, "20261124T023000Z-Nightly--2")
    assert not re.fullmatch(matrix.RUN_ID, "../run") and not re.fullmatch(matrix.RUN_ID, "r" * 64)


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "x" * 129, "a b", "ghc\n"], ids=short)
def test_a_download_name_must_be_a_plain_file_name(name: str) -> None:
    data = load_default()
    data["toolchains"]["ghc78"]["downloads"][1][0]["name"] = name
    message = error_for(data)
    assert message.startswith("matrix.yaml: toolchains.ghc78.downloads[1][0].name: ") and "is not a file name" in message


def test_two_downloads_of_one_name_are_refused() -> None:
    data = load_default()
    pins = data["toolchains"]["ghc78"]["downloads"][1]
    pins[1]["name"] = pins[0]["name"]
    assert error_for(data) == ("matrix.yaml: toolchains.ghc78.downloads[1][1].name: a second download named "
                               f"'{pins[0]['name']}': give each its own name")


def test_a_key_yaml_reads_as_a_number_or_boolean_must_be_quoted(tmp_path: Path) -> None:
    text = REAL.replace("  ghc88:\n", "  96:\n", 1)
    assert load_error(tmp_path, text) == "toolchains: key 96 is read as int, not text: quote it"
    both = REAL.replace("  ghc88:\n", "  96:\n", 1).replace("  ghc90:\n", '  "96":\n', 1)
    assert load_error(tmp_path, both) == "toolchains: key 96 is read as int, not text: quote it"
    assert load_error(tmp_path, REAL + "\nflaky: {on: 3}\n") == "flaky: key True is read as bool, not text: quote it"
    quoted = REAL.replace("  ghc88:\n", '  "96":\n', 1)
    (tmp_path / "q.yaml").write_text(quoted)
    assert "96" in matrix.load(tmp_path / "q.yaml").toolchains


def test_a_duplicate_key_is_refused_at_its_line(tmp_path: Path) -> None:
    text = REAL.replace("    suite: trixie\n", "    suite: trixie\n    suite: sid\n", 1)
    line = text.splitlines().index("    suite: sid") + 1
    assert load_error(tmp_path, text) == (f"line {line}, column 5: duplicate key 'suite' (first on line {line - 1}): "
                                          "keep one")
    assert load_error(tmp_path, "flavors: {a: 1, a: 2}\n") == "line 1, column 17: duplicate key 'a' (first on line 1): keep one"
    assert "duplicate key 'toolchains'" in load_error(tmp_path, REAL + "\ntoolchains: {}\n")


def test_a_merge_key_may_still_be_overridden(tmp_path: Path) -> None:
    text = REAL.replace("  ghc90:\n", "  ghc90: &debian\n", 1).replace(
        "  ghc96:\n", "  ghc96:\n    <<: *debian\n", 1)
    file = tmp_path / "m.yaml"
    file.write_text(text)
    assert matrix.load(file).toolchains["ghc96"].suite == "trixie"


def test_bytes_that_are_not_utf8_are_named_by_offset(tmp_path: Path) -> None:
    raw = REAL.encode().replace(b"GHC 9.6.6 from Debian trixie", b"GHC 9.6.6 from D\xe9bian trixie", 1)
    offset = raw.index(b"\xe9")
    line = raw.count(b"\n", 0, offset) + 1
    assert load_error(tmp_path, raw) == f"line {line}, byte {offset}: not UTF-8 (b'\\xe9'): save the file as UTF-8"


@pytest.mark.parametrize("text", ["[" * 10_000 + "]" * 10_000, "{a: " * 10_000 + "1" + "}" * 10_000,
                                  "".join("  " * i + "a:\n" for i in range(200))], ids=short)
def test_deep_nesting_is_refused_without_a_recursion_error(tmp_path: Path, text: str) -> None:
    assert "nested more than 64 levels deep (a matrix needs 7): flatten it" in load_error(tmp_path, text)


def test_nesting_below_the_limit_is_only_a_wrong_shape(tmp_path: Path) -> None:
    assert load_error(tmp_path, "[" * 60 + "]" * 60) == "matrix: expected a mapping, got a list"


BOMB = ("toolchains:\n  ghc96:\n    kind: debian\n    suite: trixie\n    ghc: '9.6.6'\n    flavors: [gnutls]\n"
        "    packages:\n      - &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        + "".join(f"      - &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi"))
        + "flavors: {gnutls: {dev_package: libcurl4-gnutls-dev, soname: libcurl-gnutls.so.4}}\n")


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    tracemalloc.start()
    started = time.monotonic()
    try:
        message = load_error(tmp_path, BOMB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert message.startswith("line 12, column ") and "more than 20000 values, counting each use of an alias" in message
    assert time.monotonic() - started < 2 and peak < 20_000_000


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    assert load_error(tmp_path, "a: &a [x, *a]\n") == "line 1, column 11: alias *a is used inside its own anchor: remove it"


def test_a_file_too_big_for_a_matrix_is_not_read_whole(tmp_path: Path) -> None:
    assert load_error(tmp_path, REAL + "#" * 300_000) == "larger than 256 KiB (a matrix is a few dozen): pass the matrix file"


@pytest.mark.parametrize("text, said", [
    ("a: 2001-02-30\n", "line 1, column 4: '2001-02-30' cannot be read as timestamp: quote it if it is text"),
    ("a: !!bool maybe\n", "line 1, column 4: 'maybe' cannot be read as bool: quote it if it is text"),
    ("a: !!timestamp never\n", "line 1, column 4: 'never' cannot be read as timestamp: quote it if it is text"),
    ("a: " + "9" * 4400 + "\n", "line 1, column 4: a value longer than 4096 characters: shorten it"),
    ("a: 1" + ":30" * 2000 + "\n", "line 1, column 4: a value longer than 4096 characters: shorten it"),
    ("a: \x1b\n", "line 1: character '\\x1b' is not allowed in YAML: remove it"),
    ("a: 1\n---\nb: 2\n", ("line 2, column 1: not valid YAML: expected a single document in the stream; "
                           "but found another document")),
], ids=short)
def test_values_pyyaml_cannot_construct_are_one_line(tmp_path: Path, text: str, said: str) -> None:
    assert load_error(tmp_path, text) == said


@pytest.mark.parametrize("key, value", [("build", 86_401), ("test", 10**12), ("fetch", True), ("probe", 0),
                                        ("configure", 60.5)])
def test_timeouts_are_whole_seconds_up_to_a_day(key: str, value: object) -> None:
    data = load_default()
    data["timeouts"][key] = value
    assert error_for(data) == (f"matrix.yaml: timeouts.{key}: expected a whole number of seconds from 1 to 86400, "
                               f"got {value!r}")


def test_a_day_is_the_longest_timeout() -> None:
    data = load_default()
    data["timeouts"]["build"] = 86_400
    assert matrix.parse(data, Path("matrix.yaml")).timeouts["build"] == 86_400


def test_containers_get_memory_and_process_limits_by_default_or_from_the_matrix() -> None:
    data = load_default()
    data.pop("limits", None)
    assert matrix.parse(data, Path("matrix.yaml")).limits == matrix.Limits(memory_mib=8192, pids=4096)
    data["limits"] = {"memory_mib": 3072}
    assert matrix.parse(data, Path("matrix.yaml")).limits == matrix.Limits(memory_mib=3072, pids=4096)


@pytest.mark.parametrize("limits, said", [
    ({"memory_mib": 0}, "limits.memory_mib: expected a whole number of MiB from 1 to 1048576, got 0"),
    ({"memory_mib": "8g"}, "limits.memory_mib: expected a whole number of MiB from 1 to 1048576, got '8g'"),
    ({"pids": -1}, "limits.pids: expected a whole number of processes from 1 to 4194304, got -1"),
    ({"cpus": 2}, "limits.cpus: unknown key; expected one of: memory_mib, pids"),
])
def test_limits_are_whole_numbers_in_a_range(limits: dict[str, object], said: str) -> None:
    data = load_default()
    data["limits"] = limits
    assert error_for(data).startswith(f"matrix.yaml: {said}")


@pytest.mark.parametrize("option", [
    'Acquire::Check-Valid-Until=false"; DPkg::Pre-Invoke {"touch /tmp/pwned"',
    "Acquire::Check-Valid-Until=false;", "Acquire::Check-Valid-Until", "APT::Key=a b", "APT::Key=a\nb",
    'APT::Key="x"', "APT::Key={x}", "APT Key=x",
])
def test_an_apt_option_cannot_smuggle_apt_conf_syntax(option: str) -> None:
    data = load_default()
    data["toolchains"]["ghc910"]["apt_options"] = [option]
    message = error_for(data)
    assert message.startswith("matrix.yaml: toolchains.ghc910.apt_options[0]: ") and "is not an apt option" in message


@pytest.mark.parametrize("line", [
    "deb http://deb.debian.org/debian experimental main\ndeb http://evil.example sid main",
    'deb http://deb.debian.org/debian experimental main "x"', "deb http://deb.debian.org/debian sid main; rm",
    "deb http://deb.debian.org/debian sid main # x", "deb [trusted=yes;] http://deb.debian.org/debian sid main",
    "deb http://deb.debian.org/debian", "deb-src  http://deb.debian.org/debian sid",
])
def test_an_apt_source_is_one_plain_line(line: str) -> None:
    data = load_default()
    data["toolchains"]["ghc910"]["apt_sources"] = [line]
    message = error_for(data)
    assert message.startswith("matrix.yaml: toolchains.ghc910.apt_sources[0]: ") and "is not a one-line apt source" in message


def test_usual_apt_sources_and_options_pass() -> None:
    data = load_default()
    sources = ["deb http://deb.debian.org/debian experimental main contrib non-free-firmware",
               "deb [trusted=yes] http://127.0.0.1:8080/ ./",
               ("deb-src [arch=amd64,i386 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
                "https://deb.debian.org/debian stable/updates main")]
    data["toolchains"]["ghc910"]["apt_sources"] = sources
    data["toolchains"]["ghc910"]["apt_options"] = ["Acquire::Check-Valid-Until=false", "Acquire::http::Proxy=http://p:3142/",
                                                   "APT::Get::List-Cleanup="]
    assert matrix.parse(data, Path("matrix.yaml")).toolchains["ghc910"].apt_sources == tuple(sources)


@pytest.mark.parametrize("package", ["-oAPT::Get::AllowUnauthenticated=true", "ghc cabal-install", "ghc\nevil", "Ghc", "g"])
def test_a_package_is_a_debian_package_name(package: str) -> None:
    data = load_default()
    data["recipes"]["ganeti-3.0"]["packages"] = [package]
    assert "recipes.ganeti-3.0.packages[0]: " in error_for(data) and "is not a Debian package name" in error_for(data)


@pytest.mark.parametrize("arg, said", [
    ("{jobs.__class__}", "'{jobs.__class__}': write the placeholder {jobs} alone, without attribute, index"),
    ("{jobs[0]}", "'{jobs[0]}': write the placeholder {jobs} alone"),
    ("{flavour.x}", "unknown placeholder '{flavour.x}' (did you mean 'flavor'?)"),
    ("{}", "unknown placeholder '{}'"),
    ("{0}", "unknown placeholder '{0}'"),
    ("{out:>2147483647}", "'{out:>2147483647}': write the placeholder {out} alone, without attribute, index, conversion or format spec"),
    ("{jobs!r}", "'{jobs!r}': write the placeholder {jobs} alone"),
    ("-j{jobs", "'-j{jobs': expected '}' before end of string; write {{ and }} for a literal brace"),
    ("awk '{print $1}'", "unknown placeholder '{print $1}'"),
    ("a}b", "'a}b': Single '}' encountered in format string; write {{ and }} for a literal brace"),
], ids=short)
def test_a_command_template_holds_bare_placeholders_only(arg: str, said: str) -> None:
    data = load_default()
    data["recipes"]["ganeti-3.1"]["steps"]["build"][0] = ["make", arg]
    assert error_for(data).startswith(f"matrix.yaml: recipes.ganeti-3.1.steps.build[0][1]: {said}")


def test_literal_braces_and_placeholders_expand_as_validated() -> None:
    data = load_default()
    argv = ["awk", "{{print $1}}", "-j{jobs}", "--jxml={out}/{flavor}-{version}.xml", "a}}b"]
    data["recipes"]["ganeti-3.1"]["steps"]["build"][0] = argv
    command = matrix.parse(data, Path("matrix.yaml")).recipes["ganeti-3.1"].steps["build"][0]
    values = {"jobs": "4", "out": "/build/out", "flavor": "gnutls", "version": "3.1"}
    assert expand(command, values) == ["awk", "{print $1}", "-j4", "--jxml=/build/out/gnutls-3.1.xml", "a}b"]


@pytest.mark.parametrize("where, value", [
    (("toolchains", "ghc96", "suite"), "sid\nmain"),
    (("toolchains", "ghc96", "suite"), "s" * 1000),
    (("toolchains", "ghc96", "flavors"), ["gnutls", "gnu\ntls"]),
    (("sources", "ganeti-3.1", "patches"), "yes\nno"),
    (("flaky",), {"flips": "2\n3"}),
], ids=short)
def test_every_message_is_one_short_line(where: tuple[str, ...], value: object) -> None:
    data = load_default()
    node = data
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    message = error_for(data)
    assert "\n" not in message and len(message) < 250 and message.startswith("matrix.yaml: " + ".".join(where))


def test_a_bad_key_or_name_is_quoted_in_the_path_and_cut() -> None:
    data = load_default()
    data["toolchains"]["ghc96"]["su\nite" * 50] = "sid"
    message = error_for(data)
    assert message.startswith("matrix.yaml: toolchains.ghc96['su\\nitesu\\nite") and "\n" not in message
    assert len(message) < 300
    with pytest.raises(ConfigError) as caught:
        matrix.pick({"ghc96": 1}, "ghc\n96", "toolchain", Path("matrix.yaml"))
    assert str(caught.value) == "matrix.yaml: no toolchain named 'ghc\\n96' (did you mean 'ghc96'?); known: ghc96"


def test_a_number_where_text_is_meant_must_be_quoted() -> None:
    data = load_default()
    data["toolchains"]["ghc910"]["ghc"] = 9.10
    assert error_for(data) == "matrix.yaml: toolchains.ghc910.ghc: 9.1 is read as a number: quote it"
    data["toolchains"]["ghc910"]["ghc"] = "9.10.3"
    data["sources"]["ganeti-3.0.2"]["version"] = 3  # an int's digits are the text meant
    assert matrix.parse(data, Path("matrix.yaml")).sources["ganeti-3.0.2"].version == "3"
