"""The readable end of `make demo`: what was backed up, restored, verified, imported and launched."""

from __future__ import annotations

from pathlib import Path

from tests.airflow_helpers import last_run_id, xcom


def _unique_mb(row: dict) -> str:
    """Boot volume backups report unique size in GB only (OCI's model); volume backups in MB too."""
    if row.get("unique_size_in_mbs") is not None:
        return str(row["unique_size_in_mbs"])
    return f"{row['unique_size_in_gbs'] * 1024}" if row.get("unique_size_in_gbs") is not None else "-"


def _nightly(rows: list[dict]) -> None:
    print("\nNightly backup (oci_nightly_backup)")
    print(f"  {'volume':<22}{'kind':<12}{'backup':<13}{'size GB':>8}{'unique MB':>10}{'RTO s':>8}  check")
    for r in rows:
        v = r.get("verification") or {}
        check = f"{v.get('level', '-')}: {'PASS' if v.get('passed') else 'FAIL'} ({v.get('detail', '')})" if v else "-"
        print(f"  {r['display_name'][:21]:<22}{r['kind']:<12}{(r['type'] or 'FAILED'):<13}"
              f"{r['size_in_gbs'] or '-':>8}{_unique_mb(r):>10}"
              f"{r['rto_seconds'] if r['rto_seconds'] is not None else '-':>8}  {check}")


def print_summary(tenancy: dict, state: Path, results: list[tuple[str, bool, str]]) -> None:
    ran = {dag_id for dag_id, _, _ in results}
    if "oci_nightly_backup" in ran:
        report = xcom("oci_nightly_backup", last_run_id("oci_nightly_backup"), "report") or \
            xcom("oci_nightly_backup", last_run_id("oci_nightly_backup"), "report", key="report") or {}
        _nightly(report.get("volumes", []))
