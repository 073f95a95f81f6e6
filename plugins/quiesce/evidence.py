"""A bracket's evidence in words: the line the report, the run note and the backup's tags carry."""

from __future__ import annotations


def consistency_text(consistency: str, kinds: list[str], reason: str | None, hold_ms: int | None,
                     positions: list[dict]) -> str:
    """One line of evidence: `app-consistent (postgres: start LSN ..., stop LSN ...; hold 812 ms)` or
    `CRASH-CONSISTENT (quiesce timed out)` (loud: the backup is not what was asked for)."""
    if consistency != "app-consistent":
        return f"CRASH-CONSISTENT ({reason})"
    parts = "; ".join(f"{p['kind']}: {p['position']}" for p in positions) or ", ".join(kinds)
    return f"app-consistent ({parts}; hold {hold_ms} ms)"


def evidence_text(consistency: dict | None) -> str:
    """The report's words for a backup's consistency (XCom `consistency`; None: no quiesce was asked)."""
    if not consistency:
        return "crash-consistent (no quiesce configured)"
    text = consistency["text"]
    if consistency.get("recovered"):
        text += "; earlier bracket ended: " + "; ".join(consistency["recovered"])
    return text

