"""The readable end of `make demo`: what was backed up, restored, verified, imported and launched."""

from __future__ import annotations

from pathlib import Path

from tests.airflow_helpers import last_run_id, xcom


def _report(dag_id: str, task_id: str = "report") -> dict:
    run_id = last_run_id(dag_id)
    return xcom(dag_id, run_id, task_id) or xcom(dag_id, run_id, task_id, key="report") or {}


def _unique(row: dict) -> str:
    """Boot volume backups report unique size in whole GB only (OCI's model); volume backups in MB too."""
    if row.get("unique_size_in_mbs") is not None:
        return f"{row['unique_size_in_mbs']} MB"
    return f"{row['unique_size_in_gbs']} GB" if row.get("unique_size_in_gbs") is not None else "-"


def _nightly() -> None:
    report = _report("oci_nightly_backup")
    print("\nNightly backup with verified test restores (oci_nightly_backup)")
    print(f"  {'volume':<22}{'kind':<12}{'backup':<13}{'size GB':>8}{'unique':>9}{'RTO s':>8}  check")
    for r in report.get("volumes", []):
        v = r.get("verification") or {}
        check = f"{v.get('level', '-')}: {'PASS' if v.get('passed') else 'FAIL'} - {v.get('detail', '')}" if v else "-"
        if v.get("canary"):
            check += f"; canary '{v['canary']}'"
        print(f"  {r['display_name'][:21]:<22}{r['kind']:<12}{(r['type'] or 'FAILED'):<13}"
              f"{r['size_in_gbs'] or '-':>8}{_unique(r):>9}"
              f"{r['rto_seconds'] if r['rto_seconds'] is not None else '-':>8}  {check}")
    print("  (untagged volume 'scratch' not backed up; test restores deleted by delete_test_restores)")


def _fleet(rows: list[dict]) -> None:
    for r in rows:
        print(f"    {r['hostname']:<12} {r['os_type']:<8} {r['instance_id'][:40]}… {r['lifecycle_state']}, "
              f"VNIC hostname label {r['hostname_label']}, IP {r['private_ip']}")


def _migration() -> None:
    report = _report("oci_vmdk_migration")
    image, upload = report.get("image") or {}, report.get("upload") or {}
    print("\nVMDK migration (oci_vmdk_migration)")
    if upload:
        print(f"  uploaded {upload['size_bytes']:,} bytes in {upload['parts']} parts (multipart, MD5 checked)")
    if image:
        print(f"  imported image {image['display_name']}: {image['lifecycle_state']}, {image['size_in_mbs']} MB, "
              f"virtual disk {image['virtual_size_bytes']:,} bytes")
    print("  launched (Linux hostnames by cloud-init, Windows by cloudbase-init):")
    _fleet(report.get("instances", []))


def _golden() -> None:
    report = _report("oci_golden_image")
    image, export = report.get("image") or {}, report.get("export") or {}
    print("\nGolden image (oci_golden_image)")
    if image:
        print(f"  image {image['display_name']} {image['lifecycle_state']} from {image['instance_id'][:40]}…; "
              f"instance back {image['instance_state']}")
        for d in image.get("detached") or []:
            print(f"  iSCSI {d['device']} detached, iscsid cleaned, re-attached afterwards")
    if export:
        obj = export["object"]
        print(f"  exported {export['export_format']} to {obj['bucket']}/{obj['name']} ({export['size_bytes']:,} bytes)")
    print("  fleet:")
    _fleet(report.get("instances", []))


def _clone() -> None:
    report = _report("oci_emergency_clone")
    print("\nEmergency clone (oci_emergency_clone)")
    for r in report.get("volumes", []):
        print(f"  {r['display_name'][:24]:<25}{r['kind']:<11}{r['size_in_gbs']:>5} GB -> clone "
              f"{(r['clone_id'] or 'NOT CLONED')[:40]}… in {r['seconds_to_available']} s"
              + (f", attached at {r['attached_device']}" if r.get("attached_device") else ""))
    instance = report.get("instance")
    if instance:
        print(f"  instance {instance['hostname']} RUNNING on the cloned boot volume, IP {instance['private_ip']}")


SECTIONS = {"oci_nightly_backup": _nightly, "oci_vmdk_migration": _migration, "oci_golden_image": _golden,
            "oci_emergency_clone": _clone}


def _plan(dag_id: str = "oci_nightly_backup") -> None:
    """The note of the demo's plan run (plan_only): what the nightly would do, before it did it."""
    from airflow import settings
    from airflow.models import DagRun

    with settings.Session() as session:
        runs = session.query(DagRun).filter_by(dag_id=dag_id).order_by(DagRun.id).all()
        run_id = next(r.run_id for r in runs if (r.conf or {}).get("plan_only"))
    print(f"\n{dag_id} with plan_only: its run note (0 changes made)\n")
    print(xcom(dag_id, run_id, "report", key="note"))


def print_summary(tenancy: dict, state: Path, results: list[tuple[str, bool, str]]) -> None:
    for dag_id, _, _ in results:
        try:
            (_plan if dag_id.endswith("(plan_only)") else SECTIONS[dag_id])()
        except Exception as exc:  # a summary must not hide the runs' own outcome
            print(f"\n{dag_id}: no summary ({type(exc).__name__}: {exc})")
