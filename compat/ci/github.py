"""`.github/workflows/ganeti-compat.yml`: a job matrix of the groups on the runner's own engine, then the report.

Kept clean for `zizmor --offline`: every action pinned by commit (its release in a comment), the token read-only,
the checkout's credentials not persisted, matrix values passed to the shell through the environment. History
is an `actions/cache` entry per run, restored by its branch prefix: cell jobs only restore it, the report job
restores it, merges tonight's parts and saves it again, also on a red night.
"""

from __future__ import annotations

from typing import Any

from compat.ci.jobs import REPORT_MINUTES, REPORTS, Job, Options, cell_command, merge_command, tolerate

# Pinned by commit; the release each commit is, checked against several public workflows that pin it.
ACTIONS = {
    "checkout": ("actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2"),
    "upload": ("actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"),
    "download": ("actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0"),
    "restore": ("actions/cache/restore@5a3ec84eff668545956fd18022155c47e93e2684", "v4.2.3"),
    "save": ("actions/cache/save@5a3ec84eff668545956fd18022155c47e93e2684", "v4.2.3"),
}
PYTHON = "~/venv/bin/python"
CACHE_PREFIX = "ganeti-compat-reports-${{ github.ref_name }}-"


def uses(action: str) -> str:
    return ACTIONS[action][0]


def steps_before(restore: bool) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [
        {"uses": uses("checkout"), "with": {"persist-credentials": False}},
        {"name": "install", "run": "python3 -m venv ~/venv && ~/venv/bin/pip install -q ."},
    ]
    if restore:
        found.append({"name": "history", "uses": uses("restore"), "with": {
            "path": f"{REPORTS}/", "key": CACHE_PREFIX + "${{ github.run_id }}-${{ github.run_attempt }}",
            "restore-keys": CACHE_PREFIX}})
    return found


def workflow(jobs: list[Job], options: Options) -> dict[str, Any]:
    include = [{"group": job.part, "toolchain": job.toolchain, "source": job.source, "minutes": job.timeout_minutes}
               for job in jobs]
    run_id = "ci-${{ github.run_id }}"
    cell = {
        "name": "${{ matrix.toolchain }} ${{ matrix.source }}",
        "runs-on": "ubuntu-latest", "timeout-minutes": "${{ matrix.minutes }}",
        "strategy": {"fail-fast": False, "matrix": {"include": include}},
        "steps": steps_before(restore=True) + [
            {"name": "run", "shell": "bash",
             "env": {"TOOLCHAIN": "${{ matrix.toolchain }}", "SOURCE": "${{ matrix.source }}",
                     "PART": f"{run_id}-${{{{ matrix.group }}}}"},
             "run": tolerate(cell_command(PYTHON, options, '"$TOOLCHAIN"', '"$SOURCE"', "$PART"))},
            {"uses": uses("upload"), "if": "always()",
             "with": {"name": "part-${{ matrix.group }}", "path": "parts/runs/"}}],
    }
    report = {
        "name": "report", "runs-on": "ubuntu-latest", "needs": "cell", "if": "always()", "timeout-minutes": REPORT_MINUTES,
        "steps": steps_before(restore=True) + [
            # A job that died uploaded nothing: merge --expect says so, cell by cell.
            {"uses": uses("download"), "continue-on-error": True,
             "with": {"pattern": "part-*", "merge-multiple": True, "path": "parts/runs/"}},
            {"name": "merge", "shell": "bash", "env": {"RUN": run_id},
             "run": merge_command(PYTHON, options, "$RUN")},
            {"name": "keep the history", "uses": uses("save"), "if": "always()", "with": {
                "path": f"{REPORTS}/", "key": CACHE_PREFIX + "${{ github.run_id }}-${{ github.run_attempt }}"}},
            {"uses": uses("upload"), "if": "always()", "with": {"name": "reports", "path": f"{REPORTS}/"}}],
    }
    return {
        "name": "ganeti-compat",
        "on": {"schedule": [{"cron": "30 2 * * *"}], "workflow_dispatch": {}},
        "permissions": {"contents": "read"},
        # One night at a time per branch: each starts from the history the one before it saved.
        "concurrency": {"group": "ganeti-compat-${{ github.ref }}", "cancel-in-progress": False},
        "jobs": {"cell": cell, "report": report},
    }


def comment_versions(text: str) -> str:
    """Each `uses: actions/x@SHA` line as YAML wrote it, with the release that commit is in a comment."""
    for ref, version in ACTIONS.values():
        text = text.replace(f"uses: {ref}\n", f"uses: {ref} # {version}\n")
    return text
