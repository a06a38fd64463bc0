"""reports/latest.md, the matrix for people reading a repository: what changed, the toolchain x source grid,
why cells failed, SSL and ABI verdicts; and summary.md, its head, for a CI job's summary page."""

from __future__ import annotations

from compat import expected, history
from compat.analysis.crosscell import common_failures, drift_against
from compat.history import CellState, RunDiff
from compat.markdown import fenced, inline, table
from compat.matrix import Expectation
from compat.outputs.context import ReportContext
from compat.outputs.registry import register
from compat.parts import GhcFacts, ProbeFacts, SslFacts
from compat.report_text import cell_text, ssl_choice
from compat.results import CellResult
from compat.status import Status

STEP_LOGS = ("image", "fetch", "prepare", "configure", "build", "test", "junit")


@register("latest.md")
def render_markdown(context: ReportContext) -> str:
    results = context.results
    lines = _head(results, context.title, context.changes, context.states, context.unreadable)
    lines += _details(results, context.known) + _unexpected_passes(context.passes)
    lines += _ssl_section(results) + _fault_section(context.faults)
    lines += _abi_section(results, context.baseline, context.focus) + _images_section(results)
    steps = ("image", "fetch", "configure", "build", "test", "inspect", "probe")
    timing_rows = [[r.toolchain, r.source, r.flavor] + [str(r.timings.get(step, "")) for step in steps] for r in results]
    lines += ["## Timings (seconds)", "", table(timing_rows, headers=["toolchain", "source", "flavor", *steps]), ""]
    return "\n".join(lines)


@register("summary.md")
def render_summary(context: ReportContext) -> str:
    """The report's head: what changed and the grid."""
    return "\n".join(_head(context.results, context.title, context.changes, context.states, context.unreadable))


def _head(results: list[CellResult], title: str, changes: RunDiff | None, states: dict[str, CellState],
          unreadable: list[str]) -> list[str]:
    toolchains = list(dict.fromkeys(r.toolchain for r in results))
    sources = list(dict.fromkeys(r.source for r in results))
    grid: dict[tuple[str, str], list[str]] = {}
    for r in results:
        state = states.get(r.key)
        said = f" ({state.state}{f' since {state.since[:10]}' if state.since else ''})" if state else ""
        grid.setdefault((r.toolchain, r.source), []).append(cell_text(r) + said)
    rows = []
    for toolchain in toolchains:
        ghc = next((r.ghc for r in results if r.toolchain == toolchain and r.ghc), None)
        label = f"{toolchain} (GHC {ghc.version}, {ghc.integer_library} {ghc.integer_library_version})" \
            if ghc and ghc.version else toolchain
        rows.append([label] + [grid.get((toolchain, s), ["-"]) for s in sources])
    lines = [f"# Ganeti toolchain compatibility: {inline(title)}", ""] + (history.render(changes) if changes else [])
    if unreadable:
        lines += ["## Unreadable results (skipped)", "", *fenced(unreadable)]
    return lines + [table(rows, headers=["toolchain"] + sources), ""]


def _details(results: list[CellResult], known: tuple[Expectation, ...]) -> list[str]:
    """Why each cell did not pass; cells that fail for the same reason share one explanation."""
    groups: dict[tuple[str, str | None, tuple[str, ...]], list[CellResult]] = {}
    for r in results:
        if r.status is not Status.PASS:
            groups.setdefault((r.status, r.cause, tuple(r.evidence)), []).append(r)
    common = common_failures(results)
    lines = ["## Why cells did not pass", ""] if groups else []
    for (status, cause, evidence), cells in groups.items():
        names = ", ".join(f"{r.toolchain} × {r.source} [{r.flavor}]" for r in cells)
        lines += [f"### {inline(names)}: {status}{f' ({inline(cause)})' if cause else ''}", ""]
        lines += fenced(list(evidence))
        for r in cells:
            prefix = inline(f"{r.toolchain} × {r.source} [{r.flavor}]: ") + " " if len(cells) > 1 else ""
            reasons = expected.explained(known, r)
            lines += [prefix + inline("; ".join(expected.describe(entry) for entry in reasons)), ""] if reasons else []
            failed = set(r.tests.failed_names if r.tests else ())
            shared = failed & common.get(r.source, set())
            if failed and r.source in common:
                lines += [(f"{prefix}Failing tests common to every toolchain (environment): {len(shared)}; "
                           f"specific to this toolchain: {len(failed - shared)}"), ""]
            logs = [inline(f"{step}: runs/{r.run_id}/{path}") for step, path in r.logs.items() if step in STEP_LOGS]
            if logs:
                lines += [prefix + "Logs: " + ", ".join(logs), ""]
    return lines


def _unexpected_passes(found: list[tuple[str, Expectation]]) -> list[str]:
    if not found:
        return []
    return ["## Unexpected passes (remove these expected: entries)", ""] + [
        f"- `{key}`: {inline(expected.describe(entry))}" for key, entry in found] + [""]


def _ssl_section(results: list[CellResult]) -> list[str]:
    choice = [f"- **{toolchain}**: {inline(text)}" for toolchain, text in ssl_choice(results).items()]
    rows = []
    for r in results:
        if r.ssl is None and not r.flags:
            continue
        ghc, ssl, probe = r.ghc or GhcFacts(), r.ssl or SslFacts(), r.probe or ProbeFacts()
        stacks = "; ".join(f"{name}: {' -> '.join(chain)}" for name, chain in ssl.tls_stacks.items())
        flags = ", ".join(flag.name for flag in r.flags if flag.name.startswith("ssl:")) or "-"
        per_request = probe.gmp_allocations_per_request
        rows.append([r.toolchain, r.source, r.flavor, f"{ghc.integer_library} {ghc.integer_library_version}",
                     "yes" if ssl.gmp_hook else ("no" if r.ssl else "-"),
                     ", ".join(ssl.curl_flavors) or "-", stacks or "-", probe.plain,
                     "-" if per_request is None else per_request, flags,
                     r.ssl_recommendation or "unknown: no recommendation recorded"])
    if not rows:
        return []
    headers = ["toolchain", "source", "flavor", "integer library", "GMP hook", "libcurl linked", "TLS stacks loaded",
               "probe", "GMP allocs / TLS request", "flags", "recommendation"]
    return ["## SSL", "", *choice, "", table(rows, headers=headers), ""]


def _fault_section(faults: list[CellResult]) -> list[str]:
    """Fault-injection runs, apart: the hazard was installed by the tool, so they say what the TLS stack does
    under it, never whether the toolchain passes."""
    rows = [[r.toolchain, r.source, r.flavor, r.started[:10], r.fault_injection.hostile_gmp, r.fault_injection.says]
            for r in faults if r.fault_injection]
    if not rows:
        return []
    return ["## Fault injection (hostile GMP allocator hook; not a verdict on the toolchain)", "",
            table(rows, headers=["toolchain", "source", "flavor", "run", "hostile run", "what it shows"]), ""]


def _images_section(results: list[CellResult]) -> list[str]:
    """Which image each toolchain ran in, and whether it followed its suite that night."""
    rows = {}
    for r in results:
        if r.image and r.toolchain not in rows:
            rows[r.toolchain] = [r.toolchain, r.image, r.started[:10], r.image_freshness or "-"]
    if not rows:
        return []
    return ["## Toolchain images", "", table(list(rows.values()), headers=["toolchain", "image", "run", "suite"]), ""]


def _abi_section(results: list[CellResult], baseline: str | None, focus: set[str]) -> list[str]:
    lines = []
    for r in results:
        for flag in r.flags:
            if flag.name.startswith("abi:"):
                lines += [f"### {r.toolchain} × {r.source}: {inline(flag.name)}", ""] + fenced(flag.evidence[:10])
    if baseline:
        for key, rows in drift_against(results, baseline, focus).items():
            lines += [f"### abi:drift of {key} against {inline(baseline)}: {len(rows)} of Ganeti's Haskell dependencies moved",
                      ""]
            if rows:
                lines += [table(rows, headers=["package", baseline, key.split("--")[0]]), ""]
    return ["## ABI", ""] + lines if lines else []
