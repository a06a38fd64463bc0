"""Properties of the matrix loader over arbitrary input: whatever a file or a parsed structure holds, the result
is a Matrix or one ConfigError line naming the file, within the deadline; and names are exactly their pattern."""

from __future__ import annotations

import contextlib
import copy
import itertools
import re
import string
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compat import matrix
from compat.errors import ConfigError
from tests.conftest import ROOT

# When a property fails, hypothesis's pytest plugin imports its patch writer, which imports black, which imports
# mypy_extensions.TypedDict: a DeprecationWarning that filterwarnings=error (pyproject.toml) turns into an
# INTERNALERROR hiding the falsifying example. Imported once here, with that warning ignored, it stays quiet.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import hypothesis.extra._patching  # noqa: F401

# database=None: no .hypothesis/ directory in the checkout; 2 s per example is the "quickly" of the loader.
PROPERTY = settings(max_examples=200, deadline=2000, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
REAL = (ROOT / "matrix.yaml").read_text()
DEFAULT = yaml.safe_load(REAL)
# Characters that make YAML structure, so generated text reaches the composer and constructor, not only the scanner.
YAML_ALPHABET = " \n\t-:[]{},&*!|>'\"#%?@`~.0123456789abenoxyz_/\\\x00\x85\u2028\ufeff"
# Every kind of value YAML can produce, nested a little.
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30) | st.dates() | st.binary(max_size=8),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=10) | st.integers() | st.booleans() | st.none(), children, max_size=5),
    max_leaves=25)


@pytest.fixture(scope="module")
def file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties") / "matrix.yaml"


def one_line(error: ConfigError, file: Path | str) -> None:
    message = str(error)
    assert message.startswith(f"{file}: ") and "\n" not in message and "\r" not in message, message
    assert len(message) < 600, message


def loads_or_refuses(file: Path, content: bytes) -> None:
    file.write_bytes(content)
    try:
        matrix.load(file)
    except ConfigError as error:
        one_line(error, file)


def parses_or_refuses(data: Any) -> None:
    try:
        matrix.parse(data, Path("matrix.yaml"))
    except ConfigError as error:
        one_line(error, "matrix.yaml")


@PROPERTY
@given(st.text())
def test_any_text_loads_or_is_one_line(file: Path, text: str) -> None:
    loads_or_refuses(file, text.encode("utf-8", "surrogatepass"))


@PROPERTY
@given(st.binary())
def test_any_bytes_load_or_are_one_line(file: Path, content: bytes) -> None:
    loads_or_refuses(file, content)


@PROPERTY
@given(st.text(alphabet=YAML_ALPHABET, max_size=200))
def test_any_yaml_like_text_loads_or_is_one_line(file: Path, text: str) -> None:
    loads_or_refuses(file, text.encode("utf-8", "surrogatepass"))


@settings(PROPERTY, max_examples=100)
@given(st.integers(0, len(REAL)), st.integers(0, 40), st.text(alphabet=YAML_ALPHABET, max_size=30))
def test_the_real_matrix_with_a_span_replaced_loads_or_is_one_line(file: Path, at: int, cut: int, text: str) -> None:
    loads_or_refuses(file, (REAL[:at] + text + REAL[at + cut:]).encode())


@PROPERTY
@given(VALUES)
def test_any_structure_parses_or_is_one_line(data: Any) -> None:
    parses_or_refuses(data)


@PROPERTY
@given(st.data())
def test_the_real_matrix_with_one_field_or_key_replaced_parses_or_is_one_line(data: st.DataObject) -> None:
    doc = copy.deepcopy(DEFAULT)
    node: Any = doc
    while True:
        key = data.draw(st.sampled_from(list(node) if isinstance(node, dict) else list(range(len(node)))))
        child = node[key]
        if not isinstance(child, (dict, list)) or not child or data.draw(st.booleans()):
            break
        node = child
    if isinstance(node, dict) and data.draw(st.booleans()):
        node[data.draw(st.text(max_size=70) | st.integers() | st.booleans() | st.none())] = node.pop(key)
    else:
        node[key] = data.draw(VALUES)
    parses_or_refuses(doc)


NAME_CHARACTERS = set(string.ascii_lowercase + string.digits + "._-")
RUN_ID_CHARACTERS = NAME_CHARACTERS | set(string.ascii_uppercase)
SEPARATORS = "._-"
NAME_LIKE = st.text(alphabet=string.ascii_letters + string.digits + ".+_-/ \n:é", max_size=70) | st.text(max_size=70)


@PROPERTY
@given(st.from_regex(matrix.NAME, fullmatch=True))
def test_every_text_of_the_name_pattern_up_to_63_characters_is_a_name(text: str) -> None:
    assert matrix.valid_name(text) == (len(text) <= 63)


@PROPERTY
@given(NAME_LIKE)
def test_a_name_is_1_to_63_lowercase_letters_digits_and_punctuation(text: str) -> None:
    expected = (1 <= len(text) <= 63 and set(text) <= NAME_CHARACTERS and text[0] not in SEPARATORS
                and text[-1] not in SEPARATORS and not any(a in SEPARATORS and b in SEPARATORS for a, b in
                                                           itertools.pairwise(text)))
    assert matrix.valid_name(text) == expected


@PROPERTY
@given(NAME_LIKE)
def test_a_run_id_is_a_name_that_may_use_capitals_and_double_dashes(text: str) -> None:
    expected = 1 <= len(text) <= 63 and set(text) <= RUN_ID_CHARACTERS and text[0] not in SEPARATORS
    assert (re.fullmatch(matrix.RUN_ID, text) is not None) == expected
