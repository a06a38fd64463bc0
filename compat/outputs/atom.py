"""reports/feed.atom: one entry per regression or fix, to follow the matrix in a feed reader."""

from __future__ import annotations

from xml.etree import ElementTree

from compat.outputs.context import ReportContext
from compat.outputs.registry import register
from compat.outputs.xml_text import xml_text as _x

ATOM = "http://www.w3.org/2005/Atom"


@register("feed.atom")
def render_atom(context: ReportContext, link: str = "latest.html") -> str:
    """Newest run first; an entry's id is stable across re-renderings."""
    diffs = context.feed
    ElementTree.register_namespace("", ATOM)
    feed = ElementTree.Element(f"{{{ATOM}}}feed")
    ElementTree.SubElement(feed, f"{{{ATOM}}}title").text = "ganeti-compat: regressions and fixes"
    ElementTree.SubElement(feed, f"{{{ATOM}}}id").text = "tag:ganeti-compat,2026:matrix"
    ElementTree.SubElement(feed, f"{{{ATOM}}}updated").text = _x(diffs[-1][1]) if diffs else "1970-01-01T00:00:00+00:00"
    ElementTree.SubElement(feed, f"{{{ATOM}}}link", href=link)
    for found, when in reversed(diffs):
        for kind, changes in (("regression", found.regressions), ("fix", found.fixes)):
            for change in changes:
                entry = ElementTree.SubElement(feed, f"{{{ATOM}}}entry")
                ElementTree.SubElement(entry, f"{{{ATOM}}}id").text = _x(
                    f"tag:ganeti-compat,2026:{found.new}/{change.key}/{kind}")
                ElementTree.SubElement(entry, f"{{{ATOM}}}title").text = _x(
                    f"{kind}: {change.key}: {change.before} -> {change.after}")
                ElementTree.SubElement(entry, f"{{{ATOM}}}updated").text = _x(when)
                ElementTree.SubElement(entry, f"{{{ATOM}}}link", href=_x(f"{link}#cell-{change.key}"))
                moved = ", ".join(f"{name} {old} -> {new}" for name, old, new in change.manifest)
                ElementTree.SubElement(entry, f"{{{ATOM}}}summary").text = _x("\n".join(
                    part for part in (change.why, f"changed beside it: {moved}" if moved else "", change.investigation)
                    if part))
    return ElementTree.tostring(feed, encoding="unicode", xml_declaration=True) + "\n"
