"""reports/badge.svg: passing cells over cells that could run, for a README."""

from __future__ import annotations

from compat.outputs.context import ReportContext
from compat.outputs.registry import register
from compat.status import Status


@register("badge.svg")
def render_badge(context: ReportContext) -> str:
    """Coloured green when every cell that ran passed, orange when some did, red when none did."""
    results = context.results
    ran = [r for r in results if r.status is not Status.UNAVAILABLE]
    passing = sum(r.status is Status.PASS for r in ran)
    colour = "#4c1" if ran and passing == len(ran) else "#dfb317" if passing else "#e05d44"
    text = f"{passing}/{len(ran)} pass"
    width = 70 + 7 * len(text)
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='20' role='img' aria-label='ganeti-compat:"
            f" {text}'><rect width='70' height='20' fill='#555'/><rect x='70' width='{width - 70}' height='20' "
            f"fill='{colour}'/><g fill='#fff' font-family='sans-serif' font-size='11'><text x='6' y='14'>ganeti-compat"
            f"</text><text x='76' y='14'>{text}</text></g></svg>\n")
