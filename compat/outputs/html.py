"""reports/latest.html: one static, self-contained page (inline CSS and SVG, no JavaScript, no external
asset). Everything that came from logs, test names, sources or matrix.yaml is escaped here."""

from __future__ import annotations

from html import escape

from compat import expected
from compat.analysis.crosscell import drift_against
from compat.history import CellChange, CellState, RunDiff, RunResults, heading
from compat.matrix import Expectation
from compat.outputs.context import ReportContext
from compat.outputs.registry import register
from compat.parts import ProbeFacts, SslFacts
from compat.report_text import grid_flags, ssl_choice
from compat.results import CellResult
from compat.status import Status

COLOURS = {Status.PASS: "#2e7d32", Status.TEST_FAIL: "#ef6c00", Status.BUILD_FAIL: "#c62828", Status.CRASH: "#6a1b9a",
           Status.TIMEOUT: "#ad1457", Status.UNAVAILABLE: "#757575", Status.ERROR: "#37474f"}
STYLE = """
body{font-family:sans-serif;margin:1.5em;color:#222;max-width:110em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;vertical-align:top}
th{background:#f3f3f3;text-align:left}.cell{display:block;color:#fff;padding:.2em .4em;margin:.15em 0;
text-decoration:none;border-radius:3px}.cell small{opacity:.85}pre{background:#f7f7f7;padding:.5em;
white-space:pre-wrap;word-break:break-all}section.cell-detail{border-top:1px solid #ddd;margin-top:1em}
.expected{font-style:italic}.changes li{margin:.2em 0}svg text{font-size:11px}
"""
CHART_W, CHART_H, PAD = 520, 180, 40


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def anchor(key: str) -> str:
    return "cell-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in key)


@register("latest.html")
def render_html(context: ReportContext) -> str:
    results, title = context.results, context.title
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Ganeti toolchain compatibility: {_e(title)}</title>",
             f"<style>{STYLE}</style></head><body>", f"<h1>Ganeti toolchain compatibility: {_e(title)}</h1>"]
    if context.unreadable:
        parts.append("<h2>Unreadable results (skipped)</h2><pre>" + _e("\n".join(context.unreadable)) + "</pre>")
    parts += _changes(context.changes) + _grid(results, context.states, context.known) + _charts(context.runs)
    parts += _details(results, context.known) + _ssl(results) + _faults(context.faults)
    parts += _drift(results, context.baseline, context.focus)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _changes(changes: RunDiff | None) -> list[str]:
    if changes is None:
        return []
    out = [f"<h2>{_e(heading(changes))}</h2>"]
    groups: list[tuple[str, list[CellChange]]] = [
        ("Regressions", changes.regressions), ("Fixes", changes.fixes), ("Newly unavailable", changes.newly_unavailable),
        ("Available again", changes.available), ("Infrastructure problems (not the toolchain)", changes.infrastructure),
        ("Other changes", changes.changed), ("Expected failures", changes.expected),
        ("Unexpected passes", changes.unexpected_passes), ("Tests that changed state", changes.tests)]
    for name, items in groups:
        if not items:
            continue
        out.append(f"<h3>{_e(name)}</h3><ul class=changes>")
        for c in items:
            detail = "".join(f"<li>tests {_e(kind)} ({len(names)}): {_e(', '.join(names[:20]))}</li>"
                             for kind, names in c.tests.items())
            if c.manifest:
                moved = ", ".join(f"{name} {old} -> {new}" for name, old, new in c.manifest)
                detail += f"<li>changed beside it: {_e(moved)}</li>"
            if c.investigation:
                detail += f"<li class=investigation>{_e(c.investigation)}</li>"
            out.append(f"<li><a href='#{anchor(c.key)}'>{_e(c.key)}</a>: {_e(c.before)} &rarr; {_e(c.after)}"
                       + (f": {_e(c.why)}" if c.why else "") + (f" (compared with {_e(c.since)})" if c.since else "")
                       + (f"<ul>{detail}</ul>" if detail else "") + "</li>")
        out.append("</ul>")
    if changes.flags:
        out.append("<h3>Flags</h3><ul>" + "".join(f"<li>{_e(key)}: {_e(name)} {_e(what)}</li>"
                                                   for key, what, name in changes.flags) + "</ul>")
    if len(out) == 1:
        out.append("<p>Nothing changed.</p>")
    return out


def _grid(results: list[CellResult], states: dict[str, CellState], known: tuple[Expectation, ...]) -> list[str]:
    toolchains = list(dict.fromkeys(r.toolchain for r in results))
    sources = list(dict.fromkeys(r.source for r in results))
    out = ["<h2>Matrix</h2><table class=grid><tr><th>toolchain</th>"
           + "".join(f"<th>{_e(s)}</th>" for s in sources) + "</tr>"]
    for toolchain in toolchains:
        ghc = next((r.ghc for r in results if r.toolchain == toolchain and r.ghc), None)
        label = _e(toolchain) + (f"<br><small>GHC {_e(ghc.version)}, {_e(ghc.integer_library)} "
                                 f"{_e(ghc.integer_library_version)}</small>" if ghc and ghc.version else "")
        row = [f"<tr><th>{label}</th>"]
        for source in sources:
            cells = [r for r in results if r.toolchain == toolchain and r.source == source]
            row.append("<td>" + "".join(_cell(r, states.get(r.key), known) for r in cells) + "</td>")
        out.append("".join(row) + "</tr>")
    return out + ["</table>"]


def _cell(r: CellResult, state: CellState | None, known: tuple[Expectation, ...]) -> str:
    tests = f" {r.tests.passed}/{r.tests.total}" if r.tests and r.tests.total else ""
    cause = f" ({r.cause})" if r.cause else ""
    said = state.state + (f" since {state.since[:10]} (run {state.since_run})" if state.since else "") + " · " \
        if state else ""
    expect = (" expected" if expected.explained(known, r) else "") + grid_flags(r)
    return (f"<a class='cell status-{_e(r.status)}' style='background:{COLOURS.get(r.status, '#000')}' "
            f"href='#{anchor(r.key)}' data-cell='{_e(r.key)}'>{_e(r.flavor)}: {_e(r.status)}{_e(cause)}{_e(tests)}"
            f"{_e(expect)}<br><small>{_e(said)}{_e(r.started[:10])}</small></a>")


def _details(results: list[CellResult], known: tuple[Expectation, ...]) -> list[str]:
    out = ["<h2>Cells</h2>"]
    first_with: dict[tuple[str, str | None, tuple[str, ...]], str] = {}  # one explanation per reason
    for r in results:
        reason = (r.status, r.cause, tuple(r.evidence))
        out.append(f"<section class=cell-detail id='{anchor(r.key)}'><h3>{_e(r.key)}: {_e(r.status)}"
                   + (f" ({_e(r.cause)})" if r.cause else "") + "</h3>")
        out += [f"<p class=expected>{_e(expected.describe(entry))}</p>" for entry in expected.explained(known, r)]
        out.append(f"<p>run {_e(r.run_id)}, started {_e(r.started)}; image {_e(r.image or '-')}: "
                   f"{_e(r.image_freshness or '-')}</p>")
        if r.evidence and reason in first_with:
            first = first_with[reason]
            out.append(f"<p>The same reason as <a href='#{anchor(first)}'>{_e(first)}</a>.</p>")
        elif r.evidence:
            first_with[reason] = r.key
            out.append("<pre>" + _e("\n".join(r.evidence)) + "</pre>")
        failed = r.tests.failed_names if r.tests else ()
        if failed:
            out.append("<p>Failing tests:</p><ul>" + "".join(f"<li>{_e(name)}</li>" for name in failed) + "</ul>")
        if r.flags:
            out.append("<ul>" + "".join(f"<li><b>{_e(f.name)}</b>: {_e('; '.join(f.evidence))}</li>"
                                        for f in r.flags) + "</ul>")
        if r.timings:
            out.append("<table><tr>" + "".join(f"<th>{_e(step)}</th>" for step in r.timings) + "</tr><tr>"
                       + "".join(f"<td>{_e(seconds)} s</td>" for seconds in r.timings.values()) + "</tr></table>")
        if r.logs:
            out.append("<p>Logs: " + ", ".join(f"<a href='runs/{_e(r.run_id)}/{_e(path)}'>{_e(step)}</a>"
                                               for step, path in r.logs.items()) + "</p>")
        if r.manifest:
            rows = "".join(f"<tr><td>{_e(name)}</td><td>{_e(version)}</td></tr>" for name, version in r.manifest.items())
            out.append(f"<details><summary>manifest ({len(r.manifest)} packages)</summary><table>{rows}</table>"
                       "</details>")
        out.append("</section>")
    return out


def _ssl(results: list[CellResult]) -> list[str]:
    choice = "<ul>" + "".join(f"<li><b>{_e(t)}</b>: {_e(text)}</li>" for t, text in ssl_choice(results).items()) + "</ul>"
    rows = []
    for r in results:
        if r.ssl is None and not r.ssl_recommendation:
            continue
        ssl, probe = r.ssl or SslFacts(), r.probe or ProbeFacts()
        stacks = "; ".join(f"{name}: {' -> '.join(chain)}" for name, chain in ssl.tls_stacks.items())
        per_request = probe.gmp_allocations_per_request
        cells = [r.toolchain, r.source, r.flavor, ", ".join(ssl.curl_flavors) or "-", stacks or "-", probe.plain,
                 "-" if per_request is None else per_request, r.ssl_recommendation or "-"]
        rows.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    if not rows:
        return []
    headers = ["toolchain", "source", "flavor", "libcurl linked", "TLS stacks loaded", "probe",
               "GMP allocs / TLS request", "recommendation"]
    return ["<h2>SSL</h2>", choice, "<table><tr>" + "".join(f"<th>{h}</th>" for h in headers) + "</tr>", *rows,
            "</table>"]


def _faults(faults: list[CellResult]) -> list[str]:
    rows = [f"<tr><td>{_e(r.key)}</td><td>{_e(r.started[:10])}</td><td>{_e(r.fault_injection.hostile_gmp)}</td>"
            f"<td>{_e(r.fault_injection.says)}</td></tr>" for r in faults if r.fault_injection]
    if not rows:
        return []
    head = ("<h2>Fault injection (not a verdict on the toolchain)</h2><table><tr><th>cell</th><th>run</th>"
            "<th>hostile run</th><th>what it shows</th></tr>")
    return [head, *rows, "</table>"]


def _drift(results: list[CellResult], baseline: str | None, focus: set[str]) -> list[str]:
    if not baseline:
        return []
    out = []
    for key, rows in drift_against(results, baseline, focus).items():
        out.append(f"<h3>abi:drift of {_e(key)} against {_e(baseline)}: {len(rows)} moved</h3>")
        if rows:
            out.append(f"<table><tr><th>package</th><th>{_e(baseline)}</th><th>{_e(key)}</th></tr>"
                       + "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>" for row in rows)
                       + "</table>")
    return ["<h2>ABI</h2>", *out] if out else []


def _charts(runs: list[RunResults], last: int = 30) -> list[str]:
    """Build time and tests passed per toolchain over the last runs, as inline SVG line charts."""
    runs = runs[-last:]
    build: dict[str, list[tuple[int, float]]] = {}
    passed: dict[str, list[tuple[int, float]]] = {}
    for index, run in enumerate(runs):
        for result in run.cells.values():
            if result.compiled_by is None and result.build is not None and not result.status.infrastructure:
                build.setdefault(f"{result.toolchain} {result.source}", []).append((index, result.build))
            if result.tests and result.tests.total:
                ratio = result.tests.passed / result.tests.total
                passed.setdefault(f"{result.toolchain} {result.source} {result.flavor}", []).append((index, ratio))
    if len(runs) < 2 or not (build or passed):
        return []
    return ["<h2>Over the last runs</h2>",
            _chart("Haskell build time (s), first flavor", build, len(runs)),
            _chart("tests passed / total", passed, len(runs), fixed_max=1.0)]


def _chart(title: str, series: dict[str, list[tuple[int, float]]], count: int, fixed_max: float | None = None) -> str:
    top = fixed_max or max((v for points in series.values() for _, v in points), default=1.0) or 1.0
    palette = ["#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#5d4037", "#283593"]

    def x(index: int) -> float:
        return PAD + index * (CHART_W - 2 * PAD) / max(1, count - 1)

    def y(value: float) -> float:
        return CHART_H - PAD / 2 - value / top * (CHART_H - PAD)

    lines = []
    for n, (name, points) in enumerate(sorted(series.items())):
        colour = palette[n % len(palette)]
        path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in points)
        lines.append(f"<polyline fill=none stroke='{colour}' stroke-width=2 points='{path}'><title>{_e(name)}</title>"
                     "</polyline>")
        lines.append(f"<text x='{CHART_W + 5}' y='{14 + 13 * n}' fill='{colour}'>{_e(name)}</text>")
    return (f"<figure><figcaption>{_e(title)}, last {count} runs (max {top:g})</figcaption>"
            f"<svg role=img width='{CHART_W + 220}' height='{max(CHART_H, 20 + 13 * len(series))}' "
            f"xmlns='http://www.w3.org/2000/svg'><line x1='{PAD}' y1='{CHART_H - PAD / 2}' x2='{CHART_W - PAD}' "
            f"y2='{CHART_H - PAD / 2}' stroke='#999'/><line x1='{PAD}' y1='{PAD / 2}' x2='{PAD}' "
            f"y2='{CHART_H - PAD / 2}' stroke='#999'/>{''.join(lines)}</svg></figure>")
