"""Quiesce's pure parts: the tag grammar and its refusals, the policy keys, the plan item, each database's
statements and how their answers read, and the evidence text."""

from __future__ import annotations

import pytest
from common.errors import OciInputError
from quiesce import statements as sql
from quiesce.evidence import consistency_text, evidence_text
from quiesce.spec import normalised, parse, plan_quiesce, policy_settings, volume_quiesce

AT = "volume db (ocid1.volume.oc1..x) tag backup-quiesce"


@pytest.mark.parametrize("value, kind, expected", [
    ("postgres:pg_orders", "postgres", {"conn_id": "pg_orders"}),
    ("mariadb:mysql_shop", "mariadb", {"conn_id": "mysql_shop"}),
    ("mysql:shop", "mysql", {"conn_id": "shop"}),
    ("oracle:ora_erp", "oracle", {"conn_id": "ora_erp"}),
    ("fsfreeze:/data,/var/log/app", "fsfreeze", {"mounts": ("/data", "/var/log/app")}),
    ("script:/opt/app/pre.sh quiet,/opt/app/post.sh,120", "script",
     {"pre": "/opt/app/pre.sh quiet", "post": "/opt/app/post.sh", "timeout": 120}),
])
def test_tag_values_parse_into_kind_and_arguments(value, kind, expected):
    spec = parse(value, AT)
    assert spec.kind == kind
    assert {k: getattr(spec, k) for k in expected} == expected


@pytest.mark.parametrize("value, rule", [
    ("mongodb:x", "unknown kind 'mongodb'; one of postgres, mariadb, mysql, oracle, fsfreeze, script"),
    ("postgres:", "postgres needs an argument after ':' (an Airflow connection id)"),
    ("fsfreeze:data", "mount point 'data' must be an absolute path"),
    ("fsfreeze:/data/../etc", "mount point '/data/../etc' must be an absolute path"),
    ("script:/opt/pre.sh; rm -rf /,/opt/post.sh", "shell metacharacters ';' are not allowed"),
    ("fsfreeze:/data$(reboot)", "shell metacharacters '$()' are not allowed"),
    ("script:/opt/pre.sh", "script needs 'pre command,post command[,timeout seconds]'"),
    ("script:/a,/b,0", "timeout '0' must be whole seconds from 1 to 3600"),
    ("postgres:pg orders", "is not an Airflow connection id"),
])
def test_bad_values_are_refused_naming_the_volume_and_the_rule(value, rule):
    with pytest.raises(OciInputError) as err:
        parse(value, AT)
    assert str(err.value).startswith(AT) and rule in str(err.value)


def test_policy_keys_are_checked_and_the_tag_wins_over_the_policy():
    assert policy_settings("gold", {}) == {"quiesce": None, "max_quiesce_seconds": 30.0, "on_quiesce_failure": "fail"}
    with pytest.raises(OciInputError, match="policy 'gold' max_quiesce_seconds 0: seconds greater than 0"):
        policy_settings("gold", {"max_quiesce_seconds": 0})
    with pytest.raises(OciInputError, match="policy 'gold' on_quiesce_failure 'ignore': one of fail, crash_con"):
        policy_settings("gold", {"on_quiesce_failure": "ignore"})
    with pytest.raises(OciInputError, match="policy 'gold' quiesce 'nfs:x': unknown kind"):
        policy_settings("gold", {"quiesce": "nfs:x"})
    policy = {"quiesce": "fsfreeze:/data", "max_quiesce_seconds": 5, "on_quiesce_failure": "crash_consistent"}
    tagged = {"volume_id": "v1", "display_name": "db", "quiesce": "postgres:pg", "policy": "gold"}
    untagged = {"volume_id": "v2", "display_name": "files", "quiesce": None, "policy": "gold"}
    assert volume_quiesce(tagged, policy)["spec"] == "postgres:pg"
    assert volume_quiesce(untagged, policy) == {"volume_id": "v2", "display_name": "files",
                                                "spec": "fsfreeze:/data", "source": "policy 'gold' quiesce"}
    assert volume_quiesce(untagged, {}) is None
    group = plan_quiesce([tagged, untagged], policy)
    assert [i["spec"] for i in group["items"]] == ["postgres:pg", "fsfreeze:/data"]
    assert (group["max_quiesce_seconds"], group["on_quiesce_failure"]) == (5.0, "crash_consistent")
    assert plan_quiesce([{**untagged}], {}) is None


def test_an_operator_argument_becomes_a_plan_and_its_limits_override():
    plan = normalised("postgres:pg", ["ocid1.volume.oc1..a"], 10, None)
    assert plan["items"][0]["spec"] == "postgres:pg" and plan["max_quiesce_seconds"] == 10
    assert normalised(None, ["v"], None, None) is None
    with pytest.raises(OciInputError, match="quiesce 42: a spec such as postgres:pg_orders"):
        normalised(42, ["v"], None, None)
    with pytest.raises(OciInputError, match=r"^on_quiesce_failure 'maybe': one of fail, crash_consistent"):
        normalised("postgres:pg", ["v"], None, "maybe")


def test_database_statements_and_positions():
    assert sql.mysql_statements("mariadb") == (("BACKUP STAGE START", "BACKUP STAGE BLOCK_COMMIT"),
                                               ("BACKUP STAGE END",))
    assert sql.mysql_statements("mysql") == (("FLUSH TABLES WITH READ LOCK",), ("UNLOCK TABLES",))
    assert sql.binlog_position(("mysql-bin.000003", 1234, "", ""), "0-1-42") == \
        "binlog mysql-bin.000003:1234, gtid 0-1-42"
    assert sql.binlog_position(None, None) == "binlog off"
    assert "fast => true" in sql.PG_START and "pg_backup_stop" in sql.PG_STOP
    assert len(sql.label_for("scheduled__2026-12-06T02:00:00+00:00" * 3, "ocid1.volume.oc1..abcdef123456")) == 63


def test_oracle_ends_datafiles_a_killed_run_left_in_backup_mode_first():
    """V$BACKUP rows (file#, status): any ACTIVE means END BACKUP before BEGIN BACKUP; none means nothing."""
    assert sql.oracle_recovery([(1, "NOT ACTIVE"), (2, "ACTIVE")]) == ["ALTER DATABASE END BACKUP"]
    assert sql.oracle_recovery([(1, "NOT ACTIVE")]) == []
    assert sql.oracle_recovery([]) == []
    assert (sql.ORACLE_BEGIN, sql.ORACLE_END) == ("ALTER DATABASE BEGIN BACKUP", "ALTER DATABASE END BACKUP")
    assert sql.ORACLE_ACTIVE == "SELECT file#, status FROM v$backup WHERE status = 'ACTIVE'"
    assert sql.oracle_position(1000, 1042) == "SCN 1000 to 1042"


def test_evidence_text_is_loud_when_not_app_consistent():
    positions = [{"volume_id": "v", "kind": "postgres", "position": "start LSN 0/2000028, stop LSN 0/2000100"}]
    assert consistency_text("app-consistent", ["postgres"], None, 812, positions) == \
        "app-consistent (postgres: start LSN 0/2000028, stop LSN 0/2000100; hold 812 ms)"
    assert consistency_text("crash-consistent", ["postgres"], "quiesce timed out", 30000, []) == \
        "CRASH-CONSISTENT (quiesce timed out)"
    assert evidence_text(None) == "crash-consistent (no quiesce configured)"
    assert evidence_text({"text": "app-consistent (x)", "recovered": ["volume a: thawed /data"]}) == \
        "app-consistent (x); earlier bracket ended: volume a: thawed /data"
