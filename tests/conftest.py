from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent


def with_expected(text: str, entries: str) -> str:
    """A matrix file's text with more `expected:` entries (YAML list items), first in the list it may have."""
    if "\nexpected:\n" in text:
        return text.replace("\nexpected:\n", "\nexpected:\n" + entries, 1)
    return text + "\nexpected:\n" + entries


@pytest.fixture
def data() -> Path:
    return DATA
