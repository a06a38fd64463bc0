"""The matrix for machines: JUnit XML (one test case per cell, so any CI shows it), an Atom feed of
regressions and fixes, and a badge. Pure functions; escaping is ElementTree's."""

from __future__ import annotations

import re
from xml.etree import ElementTree

from compat import expected, findings
from compat.history import RunDiff
from compat.matrix import Expectation
from compat.results import CellResult
from compat.status import Status

ATOM = "http://www.w3.org/2005/Atom"
# Characters XML 1.0 cannot hold at all, escaped or not: ElementTree writes them as they are, and the
# file is then no XML that any CI can read.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(text: object) -> str:
    return NOT_XML.sub("\ufffd", str(text))


def render_junit(results: list[CellResult], known: tuple[Expectation, ...] = ()) -> str:
    """A failed cell is a <failure> with its evidence; unavailable and expected failures are <skipped>."""
    suite = ElementTree.Element("testsuite", name="ganeti-compat matrix", tests=str(len(results)))
    failures = skipped = 0
    for r in results:
        case = ElementTree.SubElement(suite, "testcase", classname=_x(f"{r.toolchain}.{r.source}"), name=_x(r.flavor),
                                      time=str(round(sum(r.timings.values()), 1)))
        reasons = expected.explained(known, r)
        if r.status is Status.UNAVAILABLE or reasons:
            skipped += 1
            said = "; ".join(expected.describe(e) for e in reasons) or "; ".join(r.evidence[:1])
            ElementTree.SubElement(case, "skipped", message=_x(said))
        elif r.status.failed:
            failures += 1
            investigated = f"; {findings.said(r.investigation)}" if r.investigation else ""
            failure = ElementTree.SubElement(case, "failure", type=r.status,
                                             message=_x(f"{r.status}{f' ({r.cause})' if r.cause else ''}{investigated}"))
            failure.text = _x("\n".join(r.evidence))
    suite.set("failures", str(failures))
    suite.set("skipped", str(skipped))
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def render_atom(diffs: list[tuple[RunDiff, str]], link: str = "latest.html") -> str:
    """One entry per regression or fix, newest run first; an entry's id is stable across re-renderings."""
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


def render_badge(results: list[CellResult]) -> str:
    """passing cells / cells that could run, coloured green, orange or red."""
    ran = [r for r in results if r.status is not Status.UNAVAILABLE]
    passing = sum(r.status is Status.PASS for r in ran)
    colour = "#4c1" if ran and passing == len(ran) else "#dfb317" if passing else "#e05d44"
    text = f"{passing}/{len(ran)} pass"
    width = 70 + 7 * len(text)
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='20' role='img' aria-label='ganeti-compat:"
            f" {text}'><rect width='70' height='20' fill='#555'/><rect x='70' width='{width - 70}' height='20' "
            f"fill='{colour}'/><g fill='#fff' font-family='sans-serif' font-size='11'><text x='6' y='14'>ganeti-compat"
            f"</text><text x='76' y='14'>{text}</text></g></svg>\n")
