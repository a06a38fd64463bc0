"""reports/matrix.junit.xml: one test case per cell, so any CI shows the matrix; escaping is ElementTree's."""

from __future__ import annotations

from xml.etree import ElementTree

from compat import expected, findings
from compat.outputs.context import ReportContext
from compat.outputs.registry import register
from compat.outputs.xml_text import xml_text as _x
from compat.status import Status


@register("matrix.junit.xml")
def render_junit(context: ReportContext) -> str:
    """A failed cell is a <failure> with its evidence; unavailable and expected failures are <skipped>."""
    results, known = context.results, context.known
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
