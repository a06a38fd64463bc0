"""Text any XML format may hold: the JUnit file and the Atom feed must stay XML that any CI can read."""

from __future__ import annotations

import re

# Characters XML 1.0 cannot hold at all, escaped or not: ElementTree writes them as they are, and the
# file is then no XML that any CI can read.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: object) -> str:
    return NOT_XML.sub("\ufffd", str(text))
