"""The report's formats: one module each, registered by file name (compat.outputs.registry) and written
from one ReportContext by compat.outputs.write. Importing them here registers them, in the order the
files are written, whichever module is imported first."""

from compat.outputs import markdown, json, html, junit, atom, badge  # noqa: F401, I001  (the order is the point)
