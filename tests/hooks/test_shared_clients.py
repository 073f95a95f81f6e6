"""One SDK client per connection, service and region in a process (issue 8): many triggers waiting at once in
one event loop, as in a triggerer, share them, and the key is parsed once. Real SDK against ocisim."""

from __future__ import annotations

import asyncio
import threading

import oci
from hooks import base as hook_module
from hooks.base import shared_client_count
from hooks.oci import OciHook
from triggers.oci import OciWaitTrigger


def test_many_triggers_in_one_loop_share_one_client_per_connection_and_region(airflow_oci):
    sim = airflow_oci
    storage = sim.client(oci.core.BlockstorageClient)
    volume = sim.tenancy["volumes"]["data1"]
    backups = [storage.create_volume_backup(oci.core.models.CreateVolumeBackupDetails(
        volume_id=volume, type="FULL", display_name=f"b{i}")).data.id for i in range(40)]
    sim.admin.advance(3600)
    copies = [storage.copy_volume_backup(b, oci.core.models.CopyVolumeBackupDetails(
        destination_region="us-phoenix-1")).data.id for b in backups[:10]]
    clients_before, auth_before = shared_client_count(), len(hook_module._SHARED_AUTH)

    specs = [OciHook().lifecycle_spec(b, ["AVAILABLE"], region="us-ashburn-1") for b in backups]
    specs += [OciHook().lifecycle_spec(c, ["AVAILABLE"], region="us-phoenix-1") for c in copies]
    triggers = [OciWaitTrigger(s.to_dict(), poll_interval=0.05, max_interval=0.2, timeout=60) for s in specs]
    threads: set[str] = set()

    async def first(trigger):
        async for event in trigger.run():
            threads.update(t.name for t in threading.enumerate())
            return event

    async def main():
        return await asyncio.gather(*(first(t) for t in triggers))

    events = asyncio.run(main())
    assert [e.payload["status"] for e in events] == ["success"] * 50
    # 50 triggers, each with its own hook: two new clients (blockstorage in each region), one parsed key
    assert shared_client_count() - clients_before == 2
    parsed = len(hook_module._SHARED_AUTH) - auth_before  # (never in an assertion message: it holds the key)
    assert parsed == 1
    assert OciHook(region="us-phoenix-1").get_client("blockstorage") is OciHook().get_client(
        "blockstorage", "us-phoenix-1")
