"""Each database's backup-mode statements and how their answers are read (pure: quiescers.py runs them through the
providers' hooks, and the unit tests check them without a server).

- PostgreSQL 15+: `pg_backup_start(label, fast => true)` and `pg_backup_stop()` in one session; the server ends
  the backup when that session closes, so a killed worker cannot leave it in backup mode. The session carries
  `application_name` = the label, so the next run can find and end one that outlived its worker.
- MariaDB: `BACKUP STAGE START` + `BACKUP STAGE BLOCK_COMMIT` (commits wait; reads and uncommitted writes go on),
  then `BACKUP STAGE END`. MySQL: `FLUSH TABLES WITH READ LOCK` ... `UNLOCK TABLES`. Both in one session, with
  the binlog file and position (and the GTID position where there is one) read while blocked.
- Oracle: `ALTER DATABASE BEGIN BACKUP` / `ALTER DATABASE END BACKUP` (instance-wide, not tied to a session:
  a datafile stays in backup mode until ended, so the next run first ends what `V$BACKUP` shows ACTIVE), with
  the database's SCN recorded at both ends.
"""

from __future__ import annotations

PG_START = "SELECT pg_backup_start(%s, fast => true)::text"
PG_STOP = "SELECT lsn::text, labelfile FROM pg_backup_stop(wait_for_archive => false)"
PG_SET_NAME = "SELECT set_config('application_name', %s, false)"
PG_LEFT_OPEN = "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND pid <> pg_backend_pid()"
PG_END_SESSION = "SELECT pg_terminate_backend(%s)"

MARIADB_START = ("BACKUP STAGE START", "BACKUP STAGE BLOCK_COMMIT")
MARIADB_END = ("BACKUP STAGE END",)
MYSQL_START = ("FLUSH TABLES WITH READ LOCK",)
MYSQL_END = ("UNLOCK TABLES",)
MY_SESSION_ID = "SELECT CONNECTION_ID()"
MY_BINLOG = "SHOW MASTER STATUS"
MY_GTID = {"mariadb": "SELECT @@GLOBAL.gtid_binlog_pos", "mysql": "SELECT @@GLOBAL.gtid_executed"}
MY_LEFT_OPEN = "SELECT ID FROM information_schema.PROCESSLIST WHERE ID = %s"
MY_END_SESSION = "KILL CONNECTION %s"

ORACLE_SCN = "SELECT current_scn FROM v$database"
ORACLE_ACTIVE = "SELECT file#, status FROM v$backup WHERE status = 'ACTIVE'"
ORACLE_BEGIN = "ALTER DATABASE BEGIN BACKUP"
ORACLE_END = "ALTER DATABASE END BACKUP"


def label_for(run_id: str, volume_id: str) -> str:
    """A backup label the server shows (PostgreSQL's backup_label, the session's application_name, at most 63
    characters): the run and the volume's short id."""
    return f"airflow-quiesce {volume_id[-12:]} {run_id}"[:63]


def mysql_statements(kind: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The statements that open and close a MariaDB or MySQL bracket."""
    return (MARIADB_START, MARIADB_END) if kind == "mariadb" else (MYSQL_START, MYSQL_END)


def binlog_position(status_row, gtid: str | None) -> str:
    """`SHOW MASTER STATUS`'s first row (file, position, ...) and the GTID position as one evidence text."""
    text = "binlog off" if not status_row else f"binlog {status_row[0]}:{status_row[1]}"
    return f"{text}, gtid {gtid}" if gtid else text


def oracle_recovery(active_rows) -> list[str]:
    """What ends a backup mode a killed run left: `END BACKUP` when `V$BACKUP` shows any datafile ACTIVE."""
    return [ORACLE_END] if any(str(row[1]).upper() == "ACTIVE" for row in active_rows or []) else []


def oracle_position(begin_scn, end_scn) -> str:
    return f"SCN {begin_scn} to {end_scn}"


def pg_position(start_lsn: str, stop_lsn: str, label: str) -> str:
    return f"start LSN {start_lsn}, stop LSN {stop_lsn}, label {label}"
