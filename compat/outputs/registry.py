"""Report formats by the file they write: adding a format is one module with one @register, nothing else."""

from __future__ import annotations

from collections.abc import Callable

from compat.outputs.context import ReportContext

Render = Callable[[ReportContext], str]
FORMATS: dict[str, Render] = {}  # file name -> its renderer, in the order they are written


def register(file_name: str) -> Callable[[Render], Render]:
    def add(render: Render) -> Render:
        if file_name in FORMATS:
            raise ValueError(f"a report format already writes {file_name}")
        FORMATS[file_name] = render
        return render
    return add


def unregister(file_name: str) -> None:
    del FORMATS[file_name]
