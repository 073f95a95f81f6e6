"""Instance agent (Run Command): commands, their execution on the target instance, cancelation.

A command targets one instance, so each command has exactly one execution; both live in one resource (kind
"agentcommand"): the command's fields are public, the execution's are private `_` fields that `execution()`
shapes as InstanceAgentCommandExecution. The execution goes ACCEPTED → IN_PROGRESS → SUCCEEDED | FAILED |
TIMED_OUT | CANCELED. With guest execution on (`--guest-exec`) a background thread runs the script on this
machine (ocisim.guest) and updates the record as it goes, so the API answers at once; with it off the
execution ends FAILED, saying how to turn it on, as an instance without a working agent would.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import re
import secrets
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .. import guest
from ..clock import iso
from ..content import apply, diff
from ..errors import OciError, incorrect_state, invalid, missing, not_found
from ..state import State
from .base import Backend, one_of, whole_number
from .blockstorage import BlockStorageBackend
from .compute import ComputeBackend
from .objectstorage import ObjectStorageBackend

log = logging.getLogger("ocisim.agent")

KIND = "agentcommand"
INSTANCE = "instance"
LIFECYCLE_STATES = ("ACCEPTED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELED")
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELED"})
SOURCE_TYPES = ("TEXT", "OBJECT_STORAGE_URI", "OBJECT_STORAGE_TUPLE")
OUTPUT_TYPES = SOURCE_TYPES
# The exit code reported when the script never ran (guest execution off, script not downloadable):
# the shell's "command could not be run".
NOT_RUN_EXIT_CODE = 127
GUEST_DISABLED = ("Guest execution is disabled in ocisim, so the script did not run: start ocisim with "
                  "--guest-exec (loopback only) to run Run Command scripts on this machine.")
_OBJECT_PATH = re.compile(r"/n/(?P<namespace>[^/]+)/b/(?P<bucket>[^/]+)/o/(?P<object>.+)$")
_OBJECT_HOST = re.compile(r"objectstorage\.(?P<region>[a-z0-9-]+)\.")

# Scripts running now, by command id: their cancel switch and thread (process-wide, for the exit hook).
_guard = threading.Lock()
_running: dict[str, tuple[threading.Event, threading.Thread]] = {}


@atexit.register
def _stop_running_scripts() -> None:
    """When ocisim's process exits, stop the scripts it started and let their threads clean up, instead of
    leaving orphaned processes and raw volume files behind."""
    with _guard:
        live = list(_running.values())
    for cancel, _ in live:
        cancel.set()
    for _, thread in live:
        thread.join(guest.KILL_GRACE_SECONDS + 2)


class AgentBackend(Backend):
    def __init__(self, state: State, compute: ComputeBackend, blockstorage: BlockStorageBackend,
                 objectstorage: ObjectStorageBackend):
        super().__init__(state)
        self.compute = compute
        self.blockstorage = blockstorage
        self.objectstorage = objectstorage
        # Working directories of guest scripts live under the state directory, so a crash leaves nothing
        # elsewhere and the next start removes what is left.
        self.guest_root = state.state_dir / "guest"
        self._abandon_unfinished()

    # -- commands --------------------------------------------------------------------------------------
    def create_command(self, region: str, details: dict) -> dict:
        """Validate as OCI does (400 for a malformed body, 404 for an unknown instance or compartment, 409
        when the instance is not RUNNING), store the command with its ACCEPTED execution and start it."""
        compartment_id = self.compartment(details.get("compartment_id"))
        timeout = details.get("execution_time_out_in_seconds")
        if timeout is None:
            raise missing("executionTimeOutInSeconds")
        seconds = whole_number(timeout)
        if seconds is None or seconds < 0:
            raise invalid(f"executionTimeOutInSeconds '{timeout}': must be a whole number of seconds, "
                          "0 or more (0 means no timeout).")
        target = details.get("target")
        instance_id = target.get("instance_id") if isinstance(target, dict) else None
        if not instance_id:
            raise missing("target.instanceId")
        content = _content(details.get("content"))
        instance = self.get(INSTANCE, instance_id, region)
        if instance.get("lifecycle_state") != "RUNNING":
            raise incorrect_state(f"Instance {instance_id} is {instance.get('lifecycle_state')}: Run Command "
                                  "needs a RUNNING instance with Oracle Cloud Agent.")
        now = self.state.now()
        display_name = details.get("display_name") or \
            "instanceagentcommand" + datetime.fromtimestamp(now, UTC).strftime("%Y%m%d%H%M%S")
        cmd = self.new(KIND, "instanceagentcommand", region, compartment_id=compartment_id,
                       display_name=display_name, time_updated=iso(now), is_canceled=False,
                       execution_time_out_in_seconds=seconds, target={"instance_id": instance_id},
                       content=content,
                       _lifecycle_state="ACCEPTED", _delivery_state="VISIBLE", _time_updated=iso(now),
                       _sequence_number=int(now * 1000) * 1000 + secrets.randbelow(1000),
                       _exit_code=None, _message=None, _text=None, _text_sha256=None,
                       _runner="guest" if self.state.guest_exec else "disabled")
        if self.state.guest_exec:
            self.store.put(cmd)
            self._start_guest(cmd["id"])
        else:
            self.store.schedule(cmd, [
                (1.0, {"_lifecycle_state": "IN_PROGRESS", "_delivery_state": "ACKED",
                       "_time_updated": iso(now + 1.0)}),
                (2.0, {"_lifecycle_state": "FAILED", "_time_updated": iso(now + 2.0),
                       "_exit_code": NOT_RUN_EXIT_CODE, "_message": GUEST_DISABLED,
                       **_text_fields(content, GUEST_DISABLED + "\n")}),
            ], start=now)
        return cmd

    def get_command(self, region: str, command_id: str) -> dict:
        return self.get(KIND, command_id, region)

    def list_commands(self, region: str, compartment_id: str | None) -> list[dict]:
        """InstanceAgentCommandSummary of every command in the compartment (this region's)."""
        compartment_id = self.compartment(compartment_id)
        return [{"instance_agent_command_id": c["id"], "display_name": c["display_name"],
                 "compartment_id": c["compartment_id"], "time_created": c["time_created"],
                 "time_updated": c["time_updated"], "is_canceled": c["is_canceled"]}
                for c in self.store.list(KIND, region, where=lambda c: c["compartment_id"] == compartment_id)]

    def cancel_command(self, region: str, command_id: str) -> None:
        """Best effort, as OCI: a finished execution stays as it ended; a queued one ends CANCELED now; a
        running script is killed and the execution ends CANCELED once it is gone (its writes so far stay)."""
        with self.store.lock:
            cmd = self.get(KIND, command_id, region)
            now = self.now_iso()
            cmd["is_canceled"] = True
            cmd["time_updated"] = now
            if cmd["_lifecycle_state"] not in TERMINAL and cmd["_runner"] == "disabled":
                acked = cmd["_delivery_state"] == "ACKED"
                cmd.update(_lifecycle_state="CANCELED", _time_updated=now, _timeline=[],
                           _delivery_state="ACKED_CANCELED" if acked else cmd["_delivery_state"])
            self.store.put(cmd)
        with _guard:
            found = _running.get(command_id)
        if found is not None:
            found[0].set()

    # -- executions ------------------------------------------------------------------------------------
    def get_execution(self, region: str, command_id: str, instance_id: str | None) -> dict:
        if not instance_id:
            raise missing("instanceId")
        cmd = self.get(KIND, command_id, region)
        if cmd["target"]["instance_id"] != instance_id:
            raise not_found("execution")
        return execution(cmd)

    def list_executions(self, region: str, compartment_id: str | None, instance_id: str | None,
                        lifecycle_state: str | None) -> list[dict]:
        compartment_id = self.compartment(compartment_id)
        if not instance_id:
            raise missing("instanceId")
        state = None
        if lifecycle_state:  # case-insensitive, as OCI documents
            state = one_of("lifecycleState", lifecycle_state.upper(), LIFECYCLE_STATES)
        items = self.store.list(KIND, region, where=lambda c: c["compartment_id"] == compartment_id
                                and c["target"]["instance_id"] == instance_id)
        return [execution(c) for c in items if state is None or c["_lifecycle_state"] == state]

    # -- the guest -------------------------------------------------------------------------------------
    def guest_state_dir(self, instance_id: str) -> Path:
        """What the emulated guest tools keep of one instance (frozen filesystems, their log); kept across
        commands, outside the working directories that the next start removes."""
        return self.state.state_dir / "guest-instances" / "".join(c for c in instance_id if c.isalnum() or c in ".-")

    def _start_guest(self, command_id: str) -> None:
        cancel = threading.Event()
        thread = threading.Thread(target=self._run_guest, args=(command_id, cancel), daemon=True,
                                  name=f"ocisim-guest-{command_id[-8:]}")
        with _guard:
            _running[command_id] = (cancel, thread)
        thread.start()

    def _run_guest(self, command_id: str, cancel: threading.Event) -> None:
        try:
            self._guest(command_id, cancel)
        except Exception as exc:  # a bug here must end the execution, not leave it IN_PROGRESS forever
            try:
                self._update(command_id, _lifecycle_state="FAILED", _message=f"ocisim guest error: {exc}")
            except Exception:  # the store is closed: this ocisim stopped under the script
                log.warning("guest execution of %s: outcome lost, ocisim stopped (%s)", command_id, exc)
            else:
                log.exception("guest execution of %s failed", command_id)
        finally:
            with _guard:
                _running.pop(command_id, None)

    def _guest(self, command_id: str, cancel: threading.Event) -> None:
        cmd = self._update(command_id, _lifecycle_state="IN_PROGRESS", _delivery_state="ACKED")
        if cmd is None:
            return
        if cancel.is_set():
            self._update(command_id, _lifecycle_state="CANCELED", _delivery_state="ACKED_CANCELED")
            return
        content = cmd["content"]
        try:
            source, source_name = self._script(cmd)
        except OciError as err:
            message = f"The script could not be downloaded from Object Storage: {err.message}"
            self._update(command_id, _lifecycle_state="FAILED", _exit_code=NOT_RUN_EXIT_CODE,
                         _message=message, **_text_fields(content, message + "\n"))
            return
        disks = []
        for device, volume_id in self.compute.attached_devices(cmd["target"]["instance_id"]):
            found = self.blockstorage.content_of(volume_id)
            if found is not None:
                disks.append(guest.Disk(device, volume_id, found[0], found[1]))
        result = guest.run_script(self.content, source, disks, cmd["execution_time_out_in_seconds"], cancel,
                                  content.get("command_string"), source_name, workdir_root=self.guest_root,
                                  instance_dir=self.guest_state_dir(cmd["target"]["instance_id"]))
        notes = self._write_back(disks, result.written)
        text = result.output.decode("utf-8", errors="replace")
        if result.truncated:
            notes.append(f"Output truncated to its first {guest.OUTPUT_LIMIT} bytes.")
        if result.canceled:
            state = "CANCELED"
            notes.insert(0, "The command was canceled; the script was stopped.")
        elif result.timed_out:
            state = "TIMED_OUT"
            limit = cmd["execution_time_out_in_seconds"]
            notes.insert(0, f"The script did not finish within {limit} seconds and was stopped.")
        else:
            state = "SUCCEEDED" if result.exit_code == 0 else "FAILED"
        output = content["output"]
        if output["output_type"] != "TEXT":
            try:
                self._save_output(cmd, output, result.output)
            except OciError as err:
                state = "FAILED"
                notes.append(f"The output could not be written to Object Storage: {err.message}")
        self._update(command_id, _lifecycle_state=state, _exit_code=result.exit_code,
                     _delivery_state="ACKED_CANCELED" if result.canceled else "ACKED",
                     _message=" ".join(notes) or None, **_text_fields(content, text))

    def _write_back(self, disks: list[guest.Disk], written: dict[str, dict]) -> list[str]:
        """Apply what the script changed on top of each volume's current content, so a write made meanwhile
        (admin API, another command) to other blocks is kept."""
        notes = []
        before = {d.volume_id: d.blocks for d in disks}
        for volume_id, after in written.items():
            try:
                with self.store.lock:
                    current = self.blockstorage.blocks_of(volume_id)
                    changed = diff(before[volume_id], after)
                    self.blockstorage.set_blocks(volume_id, apply(current, changed))
            except OciError:
                notes.append(f"Writes to volume {volume_id} were lost: it no longer exists.")
        return notes

    def _script(self, cmd: dict) -> tuple[str, str]:
        """The script text and the file name it is saved under in the working directory."""
        source = cmd["content"]["source"]
        if source["source_type"] == "TEXT":
            return source["text"], "script.sh"
        region, namespace, bucket, name = _object_location(source, "source", cmd["_region"])
        info = self.objectstorage.object_info(region, namespace, bucket, name)
        data = self.objectstorage.read_object(region, namespace, bucket, name, 0, info["size"])
        return data.decode("utf-8", errors="replace"), name.rsplit("/", 1)[-1]

    def _save_output(self, cmd: dict, output: dict, data: bytes) -> None:
        region, namespace, bucket, name = _object_location(output, "output", cmd["_region"])
        self.objectstorage.write_object(region, namespace, bucket, name, [data],
                                            content_type="text/plain")

    def _update(self, command_id: str, **fields) -> dict | None:
        """Change the execution's fields from the guest thread; None when the command is gone (reset)."""
        with self.store.lock:
            cmd = self.store.find(command_id)
            if cmd is None:
                return None
            cmd.update(fields, _time_updated=self.now_iso())
            return self.store.put(cmd)

    def _abandon_unfinished(self) -> None:
        """A guest thread does not survive a restart: its execution's outcome is unknown; it ends FAILED."""
        shutil.rmtree(self.guest_root, ignore_errors=True)
        for cmd in self.store.list(KIND, where=lambda c: c.get("_runner") == "guest"
                                   and c["_lifecycle_state"] not in TERMINAL):
            cmd.update(_lifecycle_state="FAILED", _time_updated=self.now_iso(),
                       _message="ocisim stopped while the script ran; its outcome is unknown.")
            self.store.put(cmd)


def execution(cmd: dict) -> dict:
    """InstanceAgentCommandExecution (and ...Summary) of a command, with the content its output type shows."""
    output = cmd["content"]["output"]
    content = {"output_type": output["output_type"], "exit_code": cmd["_exit_code"],
               "message": cmd["_message"]}
    if output["output_type"] == "TEXT":
        content.update(text=cmd["_text"], text_sha256=cmd["_text_sha256"])
    elif output["output_type"] == "OBJECT_STORAGE_URI":
        content["output_uri"] = output["output_uri"]
    else:
        content.update(bucket_name=output["bucket_name"], namespace_name=output["namespace_name"],
                       object_name=output["object_name"])
    return {"instance_agent_command_id": cmd["id"], "instance_id": cmd["target"]["instance_id"],
            "delivery_state": cmd["_delivery_state"], "lifecycle_state": cmd["_lifecycle_state"],
            "time_created": cmd["time_created"], "time_updated": cmd["_time_updated"],
            "sequence_number": cmd["_sequence_number"], "display_name": cmd["display_name"],
            "content": content}


def _text_fields(content: dict, text: str) -> dict:
    if content["output"]["output_type"] != "TEXT":
        return {}
    return {"_text": text, "_text_sha256": hashlib.sha256(text.encode()).hexdigest()}


def _content(content: dict | None) -> dict:
    """InstanceAgentCommandContent: a source (TEXT, OBJECT_STORAGE_URI, OBJECT_STORAGE_TUPLE), an output
    (same types, TEXT by default) and an optional commandString run next to the saved source."""
    if not isinstance(content, dict) or not isinstance(content.get("source"), dict):
        raise missing("content.source")
    source = dict(content["source"])
    kind = one_of("content.source.sourceType", source.get("source_type"), SOURCE_TYPES)
    if kind == "TEXT":
        if not isinstance(source.get("text"), str) or not source["text"]:
            raise missing("content.source.text")
        given = source.get("text_sha256")
        actual = hashlib.sha256(source["text"].encode()).hexdigest()
        if given and given.lower() != actual:
            raise invalid(f"content.source.textSha256 '{given}' does not match the SHA-256 of the text "
                          f"({actual}).")
    _location_fields(source, kind, "content.source", "source")
    output = content.get("output") or {"output_type": "TEXT"}
    if not isinstance(output, dict):
        raise invalid("content.output: must be an object with an outputType.")
    output = dict(output)
    _location_fields(output, one_of("content.output.outputType", output.get("output_type"), OUTPUT_TYPES),
                     "content.output", "output")
    result = {"source": source, "output": output}
    if content.get("command_string"):
        result["command_string"] = content["command_string"]
    return result


def _location_fields(details: dict, kind: str, where: str, prefix: str) -> None:
    if kind == "OBJECT_STORAGE_TUPLE":
        for name, wire in (("bucket_name", "bucketName"), ("namespace_name", "namespaceName"),
                           ("object_name", "objectName")):
            if not details.get(name):
                raise missing(f"{where}.{wire}")
    elif kind == "OBJECT_STORAGE_URI":
        uri = details.get(f"{prefix}_uri")
        if not uri:
            raise missing(f"{where}.{prefix}Uri")
        if not _OBJECT_PATH.search(unquote(urlsplit(uri).path)):
            raise invalid(f"{where}.{prefix}Uri '{uri}': not an Object Storage object URL "
                          "(…/n/<namespace>/b/<bucket>/o/<object>).")


def _object_location(details: dict, prefix: str, region: str) -> tuple[str, str, str, str]:
    """(region, namespace, bucket, object) of a TUPLE or URI location; a URI names its region in its host
    (objectstorage.<region>.oraclecloud.com), else the command's region is meant (e.g. an ocisim endpoint)."""
    if details[f"{prefix}_type"] == "OBJECT_STORAGE_TUPLE":
        return region, details["namespace_name"], details["bucket_name"], details["object_name"]
    parts = urlsplit(details[f"{prefix}_uri"])
    m = _OBJECT_PATH.search(unquote(parts.path))
    host = _OBJECT_HOST.match(parts.hostname or "")
    region = host.group("region") if host else region
    return region, m.group("namespace"), m.group("bucket"), m.group("object")
