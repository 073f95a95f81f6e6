"""Operator test DAGs for custom images (golden image, import, export, delete); parameters come from run conf."""

from __future__ import annotations

import datetime

from airflow.sdk import DAG
from operators.image_transfer import OciExportImageOperator, OciImportImageOperator
from operators.images import OciCreateImageFromInstanceOperator, OciDeleteImageOperator

START = datetime.datetime(2026, 1, 1)
FAST = {"poll_interval": 0.2, "max_interval": 1, "timeout": 300}


def _pull(task_id: str, field: str) -> str:
    return "{{ ti.xcom_pull(task_ids='%s')['%s'] }}" % (task_id, field)  # noqa: UP031 (Jinja braces)


def _dag(dag_id: str, params: dict) -> DAG:
    return DAG(dag_id, schedule=None, start_date=START, catchup=False, params=params, tags=["test"])


def golden_dag(mode: str) -> DAG:
    """Golden image of an instance with an iSCSI volume: iscsid cleanup, detach, image, re-attach."""
    with _dag(f"test_op_images_golden_{mode}", {"instance_id": ""}) as dag:
        OciCreateImageFromInstanceOperator(task_id="create_golden_image", instance_id="{{ params.instance_id }}",
                                           display_name="golden-{{ params.instance_id[-6:] }}", detach_iscsi=True,
                                           deferrable=mode == "deferrable", **FAST)
    return dag


def migrate_dag(mode: str) -> DAG:
    """Migration round trip: import VMDK (URI) and QCOW2 (tuple), export each in the other format, import the
    exports again, delete one re-import and an image that does not exist."""
    common = {"deferrable": mode == "deferrable", **FAST}
    where = {"namespace": "{{ params.namespace }}", "bucket": "{{ params.bucket }}"}
    with _dag(f"test_op_images_migrate_{mode}", {"namespace": "", "bucket": "", "vmdk_uri": "", "qcow2_object": "",
                                                 "missing_image_id": ""}) as dag:
        import_vmdk = OciImportImageOperator(task_id="import_vmdk", display_name="migrated-vmdk",
                                             source_uri="{{ params.vmdk_uri }}", source_image_type="VMDK",
                                             launch_mode="PARAVIRTUALIZED", operating_system="Oracle Linux",
                                             operating_system_version="8", **common)
        import_qcow2 = OciImportImageOperator(task_id="import_qcow2", display_name="migrated-qcow2",
                                              object_name="{{ params.qcow2_object }}", source_image_type="QCOW2",
                                              launch_mode="NATIVE", **where, **common)
        export_as_qcow2 = OciExportImageOperator(task_id="export_as_qcow2", image_id=_pull("import_vmdk", "image_id"),
                                                 object_name=f"exports/{mode}/from-vmdk.qcow2", export_format="QCOW2",
                                                 **where, **common)
        export_as_vmdk = OciExportImageOperator(
            task_id="export_as_vmdk", image_id=_pull("import_qcow2", "image_id"), export_format="VMDK",
            destination_uri="https://objectstorage.us-ashburn-1.oraclecloud.com/n/{{ params.namespace }}/b/"
                            "{{ params.bucket }}/o/exports%2F" + mode + "%2Ffrom-qcow2.vmdk", **common)
        reimport_qcow2 = OciImportImageOperator(task_id="reimport_qcow2", display_name="reimported-qcow2",
                                                object_name=f"exports/{mode}/from-vmdk.qcow2",
                                                source_image_type="QCOW2", **where, **common)
        reimport_vmdk = OciImportImageOperator(task_id="reimport_vmdk", display_name="reimported-vmdk",
                                               object_name=f"exports/{mode}/from-qcow2.vmdk", source_image_type="VMDK",
                                               **where, **common)
        delete_reimport = OciDeleteImageOperator(task_id="delete_reimported_vmdk",
                                                 image_id=_pull("reimport_vmdk", "image_id"), **common)
        OciDeleteImageOperator(task_id="delete_missing_image", image_id="{{ params.missing_image_id }}", **common)
        import_vmdk >> export_as_qcow2 >> reimport_qcow2
        import_qcow2 >> export_as_vmdk >> reimport_vmdk >> delete_reimport
    return dag


for _mode in ("blocking", "deferrable"):
    for _build in (golden_dag, migrate_dag):
        _built = _build(_mode)
        globals()[_built.dag_id] = _built

blocking = {"deferrable": False, **FAST}

# One image of an instance without iSCSI handling: refused when iSCSI is attached; waits out the 20-minute window.
with _dag("test_op_images_one_image", {"instance_id": ""}) as dag:
    OciCreateImageFromInstanceOperator(task_id="create_image", instance_id="{{ params.instance_id }}",
                                       display_name="image-{{ run_id[-12:] }}", **blocking)
globals()[dag.dag_id] = dag

# One import with every argument from run conf (bad-input cases).
with _dag("test_op_images_import_one", {"source_uri": "", "namespace": "", "bucket": "", "object_name": "",
                                        "source_image_type": "VMDK", "compartment_id": "", "region": ""}) as dag:
    OciImportImageOperator(task_id="import_image", display_name="import-one", source_uri="{{ params.source_uri }}",
                           namespace="{{ params.namespace }}", bucket="{{ params.bucket }}",
                           object_name="{{ params.object_name }}", source_image_type="{{ params.source_image_type }}",
                           compartment_id="{{ params.compartment_id }}", region="{{ params.region }}", **blocking)
globals()[dag.dag_id] = dag

# One export with every argument from run conf (bad-input cases).
with _dag("test_op_images_export_one", {"image_id": "", "namespace": "", "bucket": "", "object_name": "x.vmdk",
                                        "export_format": "VMDK"}) as dag:
    OciExportImageOperator(task_id="export_image", image_id="{{ params.image_id }}",
                           namespace="{{ params.namespace }}", bucket="{{ params.bucket }}",
                           object_name="{{ params.object_name }}", export_format="{{ params.export_format }}",
                           **blocking)
globals()[dag.dag_id] = dag
