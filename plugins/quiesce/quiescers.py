"""The quiescers: how each kind of application enters its backup mode, leaves it with a position (a WAL LSN,
a binlog position, an SCN, the frozen mounts) and ends one an earlier bracket left. bracket.py drives them."""

from __future__ import annotations

from contextlib import closing
from typing import Any, Protocol

from common.errors import OciWaitError

from quiesce import statements as sql
from quiesce.spec import QuiesceSpec, where


class OciQuiesceError(OciWaitError):
    """A bracket that could not be opened or closed: names the volume, the database or mount, the connection."""


class BracketSide(Protocol):
    """What a quiescer uses of the bracket that drives it (quiesce.bracket.Bracket): the hook, the region, the
    log, its recovery notes, Run Command tokens and the instance a volume is attached to."""

    hook: Any
    region: str | None
    log: Any
    recovered: list[str]

    def token(self, purpose: str) -> str: ...

    def instance_of(self, item: dict) -> str: ...


class Quiescer:
    """One application's backup mode. `open` enters it, `close` leaves it and returns the position text,
    `abort` drops it without a position (a killed task), `recover` ends one an earlier bracket left."""

    def __init__(self, spec: QuiesceSpec, item: dict, label: str, bracket: BracketSide):
        self.spec, self.item, self.label, self.bracket = spec, item, label, bracket
        self.session: Any = None  # what the open-tag records so the next run can find it
        self.start_position: str | None = None

    def name(self) -> str:
        return f"{self.spec.kind} (connection {self.spec.conn_id})" if self.spec.conn_id else self.spec.text

    def open(self) -> None:
        raise NotImplementedError

    def close(self) -> str:
        raise NotImplementedError

    def abort(self) -> None:
        self.close()

    def recover(self, marker: dict) -> str:
        raise NotImplementedError


class PostgresQuiescer(Quiescer):
    def _hook(self):
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        return PostgresHook(postgres_conn_id=self.spec.conn_id)

    def open(self) -> None:
        self.conn = self._hook().get_conn()
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute(sql.PG_SET_NAME, (self.label,))
            cur.execute("SELECT pg_backend_pid()")
            self.session = cur.fetchone()[0]
            cur.execute(sql.PG_START, (self.label,))
            self.start_position = cur.fetchone()[0]

    def close(self) -> str:
        with closing(self.conn), self.conn.cursor() as cur:
            cur.execute(sql.PG_STOP)
            stop_lsn, _ = cur.fetchone()
        return sql.pg_position(self.start_position, stop_lsn, self.label)

    def abort(self) -> None:
        self.conn.close()  # the server ends a backup whose session closes

    def recover(self, marker: dict) -> str:
        with closing(self._hook().get_conn()) as conn, conn.cursor() as cur:
            conn.autocommit = True
            cur.execute(sql.PG_LEFT_OPEN, (marker.get("l"),))
            pids = [row[0] for row in cur.fetchall()]
            for pid in pids:
                cur.execute(sql.PG_END_SESSION, (pid,))
        if pids:
            return f"ended the backup mode of session {pids} left by run {marker.get('r')}"
        return f"run {marker.get('r')} left its bracket open; the server had already left backup mode"


class MysqlQuiescer(Quiescer):
    """MariaDB's BACKUP STAGE or MySQL's FLUSH TABLES WITH READ LOCK, in one held session."""

    def _hook(self):
        from airflow.providers.mysql.hooks.mysql import MySqlHook

        return MySqlHook(mysql_conn_id=self.spec.conn_id)

    def _position(self, cur) -> str:
        cur.execute(sql.MY_BINLOG)
        status = cur.fetchone()
        cur.execute(sql.MY_GTID[self.spec.kind])
        gtid = cur.fetchone()[0]
        return sql.binlog_position(status, gtid or None)

    def open(self) -> None:
        start, _ = sql.mysql_statements(self.spec.kind)
        self.conn = self._hook().get_conn()
        cur = self.conn.cursor()
        cur.execute(sql.MY_SESSION_ID)
        self.session = cur.fetchone()[0]
        for statement in start:
            cur.execute(statement)
        self.start_position = self._position(cur)

    def close(self) -> str:
        _, end = sql.mysql_statements(self.spec.kind)
        with closing(self.conn):
            cur = self.conn.cursor()
            position = self._position(cur)
            for statement in end:
                cur.execute(statement)
        return position

    def abort(self) -> None:
        self.conn.close()  # the server releases a session's backup stage or read lock when it ends

    def recover(self, marker: dict) -> str:
        with closing(self._hook().get_conn()) as conn:
            cur = conn.cursor()
            cur.execute(sql.MY_LEFT_OPEN, (int(marker.get("s") or 0),))
            alive = cur.fetchone()
            if alive:
                cur.execute(sql.MY_END_SESSION, (int(alive[0]),))
        if alive:
            return f"ended session {alive[0]} left in backup mode by run {marker.get('r')}"
        return f"run {marker.get('r')} left its bracket open; the server had already left backup mode"


class OracleQuiescer(Quiescer):
    """Instance-wide backup mode: no session holds it, so opening first ends what V$BACKUP shows ACTIVE."""

    def _conn(self):
        from airflow.providers.oracle.hooks.oracle import OracleHook

        return OracleHook(oracle_conn_id=self.spec.conn_id).get_conn()

    def _run(self, statements: list[str]) -> str:
        with closing(self._conn()) as conn:
            cur = conn.cursor()
            for statement in statements:
                cur.execute(statement)
            cur.execute(sql.ORACLE_SCN)
            return str(cur.fetchone()[0])

    def open(self) -> None:
        with closing(self._conn()) as conn:
            cur = conn.cursor()
            cur.execute(sql.ORACLE_ACTIVE)
            ended = sql.oracle_recovery(cur.fetchall())
        if ended:
            self.bracket.recovered.append(f"{where(self.item)}: datafiles were still in backup mode; ended first")
            self._run(ended)
        self.start_position = self._run([sql.ORACLE_BEGIN])
        self.session = "instance"

    def close(self) -> str:
        return sql.oracle_position(self.start_position, self._run([sql.ORACLE_END]))

    def recover(self, marker: dict) -> str:
        with closing(self._conn()) as conn:
            cur = conn.cursor()
            cur.execute(sql.ORACLE_ACTIVE)
            ended = sql.oracle_recovery(cur.fetchall())
        if ended:
            self._run(ended)
            return f"ended the backup mode run {marker.get('r')} left"
        return f"run {marker.get('r')} left its bracket open; no datafile was in backup mode"


class GuestQuiescer(Quiescer):
    """fsfreeze or the user's script on the instance the volume is attached to, through Run Command."""

    def _run(self, script: str, timeout: int, purpose: str) -> dict:
        from hooks.waiting import Poll

        b = self.bracket
        instance_id = self.session
        result = b.hook.run_command(instance_id, None, script, timeout, Poll(0.1, 0.5, timeout + 30), b.region,
                                    b.token(f"quiesce-{purpose}-{self.item['volume_id'][-12:]}"))
        b.log.info("quiesce %s on %s: %s exit %s %s", purpose, instance_id, result["state"], result["exit_code"],
                   result["output"][-500:])
        return result

    def _ok(self, result: dict, what: str) -> None:
        if result["state"] != "SUCCEEDED" or result["exit_code"] != 0:
            raise OciQuiesceError(f"{where(self.item)} {self.spec.text!r}: {what} on instance {self.session} ended "
                                  f"{result['state']} (exit {result['exit_code']}): {result['output'][-300:]}")

    def _freeze_script(self) -> str:
        mounts = " ".join(self.spec.mounts)
        return ("set -u\ndone=''\nfor m in " + mounts + "; do\n  if ! fsfreeze -f \"$m\"; then\n"
                "    for d in $done; do fsfreeze -u \"$d\"; done\n    exit 1\n  fi\n  done=\"$done $m\"\n"
                "  echo \"frozen $m\"\ndone\n")

    def _thaw_script(self, tolerant: bool) -> str:
        mounts = " ".join(reversed(self.spec.mounts))
        fail = "echo \"not frozen $m\"" if tolerant else "echo \"thaw failed $m\"; rc=1"
        return (f"rc=0\nfor m in {mounts}; do\n  if fsfreeze -u \"$m\"; then echo \"thawed $m\"; else {fail}; "
                f"fi\ndone\nexit $rc\n")

    def open(self) -> None:
        self.session = self.bracket.instance_of(self.item)
        if self.spec.kind == "fsfreeze":
            self._ok(self._run(self._freeze_script(), 60, "freeze"), "fsfreeze -f")
        else:
            self._ok(self._run(self.spec.pre, self.spec.timeout, "pre"), f"pre command {self.spec.pre!r}")
        self.start_position = "frozen" if self.spec.kind == "fsfreeze" else "pre command done"

    def close(self) -> str:
        if self.spec.kind == "fsfreeze":
            self._ok(self._run(self._thaw_script(False), 60, "thaw"), "fsfreeze -u")
            return f"froze {', '.join(self.spec.mounts)} on {self.session}"
        self._ok(self._run(self.spec.post, self.spec.timeout, "post"), f"post command {self.spec.post!r}")
        return f"pre and post commands on {self.session}"

    def recover(self, marker: dict) -> str:
        self.session = self.bracket.instance_of(self.item)
        if self.spec.kind == "fsfreeze":
            out = self._run(self._thaw_script(True), 60, "recover")["output"]
            thawed = [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("thawed ")]
            return (f"thawed {', '.join(thawed)} left frozen by run {marker.get('r')}" if thawed else
                    f"run {marker.get('r')} left its bracket open; nothing was still frozen")
        result = self._run(self.spec.post, self.spec.timeout, "recover")
        return f"ran the post command run {marker.get('r')} left undone: {result['state']}"


QUIESCERS = {"postgres": PostgresQuiescer, "mariadb": MysqlQuiescer, "mysql": MysqlQuiescer,
             "oracle": OracleQuiescer, "fsfreeze": GuestQuiescer, "script": GuestQuiescer}

