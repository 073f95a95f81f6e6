"""The admin API under /_ocisim/: seed, write and corrupt bytes, step time, inject faults, read counters, hold
backups at their point-in-time step, read a guest's tool log.

Never open: the server requires the admin token (written to DIR/admin_token) or a valid OCI signature.
"""

from __future__ import annotations

import hashlib
import json

from ..clock import iso
from ..errors import invalid, not_found
from ..faults import Fault
from ..routing import Response, Route
from ..seed import apply_seed


def _body(req) -> dict:
    return json.loads(req.body) if req.body else {}


def seed(sim, req):
    return apply_seed(sim, _body(req), region=req.region)


def content_of(sim, resource_id: str) -> tuple[dict, int]:
    """Block map and size in bytes of a volume, boot volume, backup or image."""
    for backend in (sim.blockstorage, sim.compute):
        found = backend.content_of(resource_id)
        if found is not None:
            return found
    raise not_found()


def write_content(sim, req):
    volume_id = req.params["volumeId"]
    offset = req.q_int("offset", 0)
    blocks = sim.content.write(sim.blockstorage.blocks_of(volume_id), offset, req.body)
    sim.blockstorage.set_blocks(volume_id, blocks)
    return {"volume_id": volume_id, "offset": offset, "length": len(req.body)}


def read_content(sim, req):
    blocks, size = content_of(sim, req.params["volumeId"])
    offset = req.q_int("offset", 0)
    length = req.q_int("length", None)
    if length is None:
        length = _data_end(sim, blocks) - offset
    if offset < 0 or length < 0 or offset + length > size:
        raise invalid(f"range {offset}+{length} outside the content of {size} bytes")
    return Response(200, sim.content.read(blocks, offset, length), {"content-type": "application/octet-stream"})


def _data_end(sim, blocks: dict) -> int:
    return (max((int(k) for k in blocks), default=-1) + 1) * sim.content.block_size


def content_sha256(sim, req):
    """sha256 of the first `length` bytes (default: up to the end of the last non-zero block)."""
    blocks, size = content_of(sim, req.params["resourceId"])
    length = req.q_int("length", None) or _data_end(sim, blocks)
    digest = hashlib.sha256()
    bs = sim.content.block_size
    for index in range((length + bs - 1) // bs):
        take = min(bs, length - index * bs)
        chunk = blocks.get(str(index))
        digest.update(sim.content.get_chunk(chunk)[:take] if chunk else bytes(take))
    return {"sha256": digest.hexdigest(), "length": length, "size": size, "blocks": len(blocks)}


def corrupt_backup(sim, req):
    return sim.blockstorage.corrupt_backup(req.params["backupId"], _body(req).get("block_index"))


def get_time(sim, req):
    return {"now": iso(sim.now()), "epoch": sim.now(), "scale": sim.clock.scale}


def advance_time(sim, req):
    seconds = float(_body(req).get("seconds", 0))
    if seconds < 0:
        raise invalid("seconds: time only moves forward")
    sim.clock.advance(seconds)
    return get_time(sim, req)


def set_scale(sim, req):
    scale = float(_body(req).get("scale", 1))
    if scale <= 0:
        raise invalid("scale: must be greater than 0")
    sim.clock.set_scale(scale)
    return get_time(sim, req)


def add_fault(sim, req):
    body = _body(req)
    try:
        fault = Fault(body["operation"], str(body["kind"]), int(body.get("count", 1)),
                      float(body.get("latency_seconds", 0)), body.get("message", ""))
        sim.faults.add(fault)
    except (KeyError, ValueError) as exc:
        raise invalid(f"fault: {exc}") from exc
    return {"operation": fault.operation, "kind": fault.kind, "count": fault.count}


def clear_faults(sim, req):
    sim.faults.clear_faults()


def get_counters(sim, req):
    return Response(200, dict(sim.faults.counters))  # operation names are keys, not fields


def clear_counters(sim, req):
    sim.faults.counters.clear()


def list_resources(sim, req):
    kind = req.q("kind")
    if not kind:
        raise invalid("kind: required")
    items = [{k: v for k, v in r.items() if k not in ("_blocks", "_delta")} for r in sim.store.list(kind)]
    return Response(200, body=json.dumps(items).encode(), headers={"content-type": "application/json"})


def deny(sim, req):
    body = _body(req)
    return vars(sim.policies.deny(str(body.get("user_id") or ""), str(body.get("verb")), str(body.get("family"))))


def list_denials(sim, req):
    return Response(200, sim.policies.listed())


def clear_denials(sim, req):
    sim.policies.clear()


def get_backup_hold(sim, req):
    return sim.blockstorage.holds()


def set_backup_hold(sim, req):
    body = _body(req)
    try:
        return sim.blockstorage.set_hold(body.get("milliseconds"), body.get("count", 1))
    except (TypeError, ValueError) as exc:
        raise invalid(f"backup hold: {exc}") from exc


def release_backup_hold(sim, req):
    return sim.blockstorage.release_holds()


def guest_log(sim, req):
    """What the emulated guest tools (ocisim/guest_tools) logged on one instance, one event a line."""
    path = sim.agent.guest_state_dir(req.params["instanceId"]) / "guest.log"
    return {"lines": path.read_text().splitlines() if path.exists() else []}


def reset(sim, req):
    sim.reset()


P = "/_ocisim"
ROUTES = [
    Route("POST", f"{P}/seed", "Seed", seed),
    Route("PUT", f"{P}/volumes/{{volumeId}}/content", "WriteContent", write_content),
    Route("GET", f"{P}/volumes/{{volumeId}}/content", "ReadContent", read_content),
    Route("GET", f"{P}/content/{{resourceId}}/sha256", "ContentSha256", content_sha256),
    Route("POST", f"{P}/backups/{{backupId}}/corrupt", "CorruptBackup", corrupt_backup),
    Route("GET", f"{P}/time", "GetTime", get_time),
    Route("POST", f"{P}/time/advance", "AdvanceTime", advance_time),
    Route("PUT", f"{P}/time/scale", "SetTimeScale", set_scale),
    Route("POST", f"{P}/faults", "AddFault", add_fault),
    Route("DELETE", f"{P}/faults", "ClearFaults", clear_faults),
    Route("GET", f"{P}/counters", "GetCounters", get_counters),
    Route("DELETE", f"{P}/counters", "ClearCounters", clear_counters),
    Route("GET", f"{P}/resources", "ListResources", list_resources),
    Route("POST", f"{P}/reset", "Reset", reset),
    Route("POST", f"{P}/policies/denials", "Deny", deny),
    Route("GET", f"{P}/policies/denials", "ListDenials", list_denials),
    Route("DELETE", f"{P}/policies/denials", "ClearDenials", clear_denials),
    Route("GET", f"{P}/backup-hold", "GetBackupHold", get_backup_hold),
    Route("PUT", f"{P}/backup-hold", "SetBackupHold", set_backup_hold),
    Route("DELETE", f"{P}/backup-hold", "ReleaseBackupHold", release_backup_hold),
    Route("GET", f"{P}/instances/{{instanceId}}/guest-log", "GetGuestLog", guest_log),
]
