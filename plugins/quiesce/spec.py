"""What a volume asks to be quiesced with, from its `backup-quiesce` tag or its policy: parsed and checked here,
before anything runs (pure functions; the preflight and the backup operators both call them).

Grammar, `kind:argument`:
- `postgres:<conn_id>`, `mariadb:<conn_id>`, `mysql:<conn_id>`, `oracle:<conn_id>`: an Airflow connection;
- `fsfreeze:<mount>[,<mount>...]`: absolute mount points on the instance the volume is attached to;
- `script:<pre command>,<post command>[,<timeout seconds>]`: the user's own commands, run through Run Command.

Every value reaches a shell (Run Command) or names a connection, so shell metacharacters are refused outright
rather than quoted: a tag anyone with tag rights can set must not become a command line of its own."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from common.errors import OciInputError, shown

QUIESCE_TAG = "backup-quiesce"
OPEN_TAG = "airflow-quiesce-open"  # on a volume while its bracket is open: what the next try or run must end
CONSISTENCY_TAG = "backup-consistency"
POSITION_TAG = "backup-consistency-position"
DB_KINDS = ("postgres", "mariadb", "mysql", "oracle")
KINDS = (*DB_KINDS, "fsfreeze", "script")
CONN_TYPES = {"postgres": "postgres", "mariadb": "mysql", "mysql": "mysql", "oracle": "oracle"}
ON_FAILURE = ("fail", "crash_consistent")
DEFAULT_MAX_SECONDS = 30.0
DEFAULT_SCRIPT_TIMEOUT = 60
METACHARACTERS = set(";&|$`<>(){}[]'\"\\*?!#~\n\r\t")
CONN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")


@dataclass(frozen=True)
class QuiesceSpec:
    """One volume's quiesce: its kind and what the kind needs."""

    kind: str
    conn_id: str | None = None
    mounts: tuple[str, ...] = ()
    pre: str | None = None
    post: str | None = None
    timeout: int = DEFAULT_SCRIPT_TIMEOUT
    text: str = field(default="", compare=False)

    @property
    def needs_instance(self) -> bool:
        """fsfreeze and script run on the instance the volume is attached to, through Run Command."""
        return self.kind in ("fsfreeze", "script")

    def label(self) -> str:
        return f"{self.kind}:{self.conn_id}" if self.conn_id else self.text


def parse(value: str, where: str) -> QuiesceSpec:
    """The spec a tag or policy value names; `where` names the volume and the source in the error
    (`volume db-data (ocid...) tag backup-quiesce`)."""
    if not isinstance(value, str) or not value.strip():
        raise OciInputError(f"{where} {shown(value)}: kind:argument, e.g. postgres:pg_orders or fsfreeze:/data")
    bad = sorted(set(value) & METACHARACTERS)
    if bad:
        raise OciInputError(f"{where} {shown(value)}: shell metacharacters {''.join(bad)!r} are not allowed (the "
                            f"value reaches a shell on the instance)")
    kind, sep, argument = value.strip().partition(":")
    if kind not in KINDS:
        raise OciInputError(f"{where} {shown(value)}: unknown kind {kind!r}; one of {', '.join(KINDS)}")
    argument = argument.strip()
    if not sep or not argument:
        raise OciInputError(f"{where} {shown(value)}: {kind} needs an argument after ':' ("
                            + ("an Airflow connection id" if kind in DB_KINDS else "mount points" if kind ==
                               "fsfreeze" else "pre command, post command[, timeout seconds]") + ")")
    if kind in DB_KINDS:
        if not CONN_ID.match(argument):
            raise OciInputError(f"{where} {shown(value)}: {argument!r} is not an Airflow connection id (letters, "
                                f"digits, '_', '.', '-')")
        return QuiesceSpec(kind, conn_id=argument, text=value)
    parts = [p.strip() for p in argument.split(",")]
    if kind == "fsfreeze":
        for mount in parts:
            if not mount.startswith("/") or " " in mount or "//" in mount or "/../" in f"{mount}/":
                raise OciInputError(f"{where} {shown(value)}: mount point {mount!r} must be an absolute path "
                                    f"without spaces or '..'")
        return QuiesceSpec(kind, mounts=tuple(dict.fromkeys(parts)), text=value)
    if len(parts) not in (2, 3) or not all(parts[:2]):
        raise OciInputError(f"{where} {shown(value)}: script needs 'pre command,post command[,timeout seconds]'")
    timeout = DEFAULT_SCRIPT_TIMEOUT
    if len(parts) == 3:
        if not parts[2].isdigit() or not 1 <= int(parts[2]) <= 3600:
            raise OciInputError(f"{where} {shown(value)}: timeout {parts[2]!r} must be whole seconds from 1 to "
                                f"3600")
        timeout = int(parts[2])
    return QuiesceSpec(kind, pre=parts[0], post=parts[1], timeout=timeout, text=value)


def policy_settings(name: str, raw: dict) -> dict:
    """The quiesce keys of a policy, checked: `quiesce` (a spec for the policy's volumes that carry no tag),
    `max_quiesce_seconds` (default 30) and `on_quiesce_failure` (`fail`, the default, or `crash_consistent`)."""
    out = {"quiesce": raw.get("quiesce"), "max_quiesce_seconds": raw.get("max_quiesce_seconds", DEFAULT_MAX_SECONDS),
           "on_quiesce_failure": raw.get("on_quiesce_failure", "fail")}
    if out["quiesce"] is not None:
        parse(out["quiesce"], f"policy {name!r} quiesce")
    seconds = out["max_quiesce_seconds"]
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= 3600:
        raise OciInputError(f"policy {name!r} max_quiesce_seconds {seconds!r}: seconds greater than 0, at most 3600")
    if out["on_quiesce_failure"] not in ON_FAILURE:
        raise OciInputError(f"policy {name!r} on_quiesce_failure {out['on_quiesce_failure']!r}: one of "
                            f"{', '.join(ON_FAILURE)}")
    return out


def volume_quiesce(volume: dict, policy: dict) -> dict | None:
    """A plan item's quiesce for one discovered volume (its tag wins over its policy's `quiesce`), or None."""
    value, source = volume.get("quiesce"), f"tag {QUIESCE_TAG}"
    if not value:
        value, source = policy.get("quiesce"), f"policy {volume.get('policy')!r} quiesce"
    if not value:
        return None
    return {"volume_id": volume["volume_id"], "display_name": volume.get("display_name"), "spec": value,
            "source": source}


def plan_quiesce(members: list[dict], policy: dict) -> dict | None:
    """The plan item's `quiesce` for a volume or a group's members: one bracket over every member that asks
    for one, with the policy's limit and failure rule; None when none asks."""
    items = [q for q in (volume_quiesce(m, policy) for m in members) if q]
    if not items:
        return None
    return {"items": items, "max_quiesce_seconds": float(policy.get("max_quiesce_seconds", DEFAULT_MAX_SECONDS)),
            "on_quiesce_failure": policy.get("on_quiesce_failure", "fail")}


def where(item: dict) -> str:
    """How an error names a bracket item: the volume, then where its spec came from."""
    return f"volume {item.get('display_name') or '-'} ({item['volume_id']}) {item['source']}"


def normalised(quiesce, volume_ids: list[str], max_seconds: float | None, on_failure: str | None) -> dict | None:
    """An operator's `quiesce` argument as the plan's dict: a spec string (for every volume of the backup), a
    plan dict, or None; the operator's own limit and failure rule override the plan's."""
    if quiesce is None or quiesce == "" or quiesce == {}:
        return None
    if isinstance(quiesce, str):
        out = {"items": [{"volume_id": v, "display_name": None, "spec": quiesce, "source": "quiesce"}
                         for v in volume_ids[:1]],
               "max_quiesce_seconds": DEFAULT_MAX_SECONDS, "on_quiesce_failure": "fail"}
    elif isinstance(quiesce, dict) and isinstance(quiesce.get("items"), list):
        out = dict(quiesce)
    else:
        raise OciInputError(f"quiesce {shown(quiesce)}: a spec such as postgres:pg_orders, or a plan item's "
                            f"quiesce")
    if max_seconds is not None:
        out["max_quiesce_seconds"] = max_seconds
    if on_failure is not None:
        out["on_quiesce_failure"] = on_failure
    seconds, on = out.get("max_quiesce_seconds", DEFAULT_MAX_SECONDS), out.get("on_quiesce_failure", "fail")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= 3600:
        raise OciInputError(f"max_quiesce_seconds {seconds!r}: seconds greater than 0, at most 3600")
    if on not in ON_FAILURE:
        raise OciInputError(f"on_quiesce_failure {on!r}: one of {', '.join(ON_FAILURE)}")
    for item in out["items"]:
        parse(item["spec"], where(item))
    return out
