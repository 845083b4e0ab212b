"""The printed table of a run: one line per (row, baseline), or per skipped side."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from .harness import Result


def fmt_time(seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_ratio(ratios: List[float]) -> str:
    if not ratios:
        return "-"
    ordered = sorted(ratios)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return f"{median:.2f}x [{ordered[0]:.2f}-{ordered[-1]:.2f}]"


def _extras(extra: Dict[str, List[Any]]) -> str:
    # The largest value over the calls: for a count such as threads started,
    # the worst round is the one a bound is about.
    return ", ".join(f"{key}: {max(values)}" for key, values in extra.items() if values)


def table_lines(results: Sequence[Result]) -> List[List[str]]:
    lines = []
    for res in results:
        ours = res.sides[0]
        name = f"{res.row.name} (per {res.row.unit})"
        ours_cell = fmt_time(ours.median) if ours.status == "ok" else ours.status
        for other in res.sides[1:]:
            if other.status != "ok":
                lines.append([name, ours_cell, other.label, other.status, ""])
            else:
                lines.append([name, ours_cell, other.label, fmt_time(other.median),
                              fmt_ratio(res.ratios.get(other.label, []))])
        notes = _extras(ours.extra)
        if notes:
            lines.append([name, ours_cell, "(gocore) " + notes, "", ""])
    return lines


def format_table(results: Sequence[Result], header: str, rounds: int) -> str:
    head = ["benchmark", "gocore", "vs.", "time", f"speed-up [min-max of {rounds} rounds]"]
    rows = table_lines(results)
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    rule = "+".join("-" * (w + 2) for w in widths)
    out = [header, "medians per unit; speed-up = baseline time / gocore time in the same round "
                   "(sides interleaved), above 1.00x gocore is faster", rule,
           "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |", rule]
    out += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    out.append(rule)
    return "\n".join(out)
