"""The local PostgreSQL (127.0.0.1:5432, trust) and MariaDB (127.0.0.1:3306, root without a password) the quiesce
tests drive: each test database and user is made here, and Airflow connections point at them."""

from __future__ import annotations

import json
import socket

PG_DB = PG_USER = "airflow_quiesce_test"
MY_DB = MY_USER = "airflow_quiesce_test"


def answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def pg_admin(dbname: str = "postgres"):
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=dbname)
    conn.autocommit = True
    return conn


def my_admin():
    import MySQLdb

    return MySQLdb.connect(host="127.0.0.1", port=3306, user="root", passwd="", autocommit=True)


def prepare_postgres() -> str:
    """A login role allowed to run pg_backup_start/stop (not a superuser) and its database; the connection JSON."""
    conn = pg_admin()
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (PG_USER,))
        if not cur.fetchone():
            cur.execute(f"CREATE ROLE {PG_USER} LOGIN")
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DB,))
        if not cur.fetchone():
            cur.execute(f"CREATE DATABASE {PG_DB} OWNER {PG_USER}")
    conn.close()
    conn = pg_admin(PG_DB)  # a function's grants are the database's
    with conn.cursor() as cur:
        for fn in ("pg_backup_start(text, boolean)", "pg_backup_stop(boolean)"):
            cur.execute(f"GRANT EXECUTE ON FUNCTION {fn} TO {PG_USER}")
    conn.close()
    return json.dumps({"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": PG_USER,
                       "schema": PG_DB})


def prepare_mariadb() -> str:
    """A user with the RELOAD privilege BACKUP STAGE needs, its database, and the metadata_lock_info plugin the
    tests read the backup lock from; the connection JSON."""
    conn = my_admin()
    cur = conn.cursor()
    cur.execute(f"CREATE DATABASE IF NOT EXISTS {MY_DB}")
    cur.execute(f"CREATE USER IF NOT EXISTS '{MY_USER}'@'%' IDENTIFIED BY 'quiesce-pw'")
    cur.execute(f"CREATE USER IF NOT EXISTS '{MY_USER}'@'localhost' IDENTIFIED BY 'quiesce-pw'")
    for host in ("%", "localhost"):
        cur.execute(f"GRANT RELOAD, BINLOG MONITOR, PROCESS, CONNECTION ADMIN ON *.* TO '{MY_USER}'@'{host}'")
        cur.execute(f"GRANT ALL ON {MY_DB}.* TO '{MY_USER}'@'{host}'")
    cur.execute("SELECT plugin_status FROM information_schema.all_plugins WHERE plugin_name = 'METADATA_LOCK_INFO'")
    row = cur.fetchone()
    if row and row[0] != "ACTIVE":
        cur.execute("INSTALL SONAME 'metadata_lock_info'")
    conn.close()
    return json.dumps({"conn_type": "mysql", "host": "127.0.0.1", "port": 3306, "login": MY_USER,
                       "password": "quiesce-pw", "schema": MY_DB})


def pg_sessions_in_backup() -> list[tuple]:
    """From a second connection: sessions of the test user whose last statement started a backup and that are
    still open (non-exclusive backup mode lives exactly as long as that session)."""
    conn = pg_admin()
    with conn.cursor() as cur:
        cur.execute("SELECT pid, application_name, state, query FROM pg_stat_activity WHERE usename = %s "
                    "AND query LIKE 'SELECT pg_backup_start%%'", (PG_USER,))
        rows = cur.fetchall()
        cur.execute("SELECT redo_lsn::text FROM pg_control_checkpoint()")
        redo = cur.fetchone()[0]
    conn.close()
    return [(*r, redo) for r in rows]


def maria_backup_locks() -> list[tuple]:
    """From a second connection: the BACKUP stage locks MariaDB holds (metadata_lock_info)."""
    conn = my_admin()
    cur = conn.cursor()
    cur.execute("SELECT thread_id, lock_mode FROM information_schema.metadata_lock_info "
                "WHERE lock_type = 'Backup lock'")
    rows = list(cur.fetchall())
    cur.execute("SELECT @@GLOBAL.gtid_binlog_pos")
    gtid = cur.fetchone()[0]
    conn.close()
    return [(*r, gtid) for r in rows]
