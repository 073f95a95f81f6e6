#!/bin/bash
# Verified-restore check, run through the instance agent (Run Command) on the verifier instance with the
# restored volume attached at __DEVICE__. Read-only: e2fsck -n never writes, debugfs opens read-only.
# Prints "RESULT PASS" or "RESULT FAIL <why>" last; exit 0 only on PASS.
set -u
DEV="__DEVICE__"
CANARY="__CANARY_PATH__"
HEARTBEAT="__HEARTBEAT_PATH__"
BACKUP_EPOCH="__BACKUP_EPOCH__"
MAX_HEARTBEAT_AGE="__MAX_HEARTBEAT_AGE__"
export PATH="/usr/sbin:/sbin:/usr/bin:/bin:$PATH"

fail() { echo "RESULT FAIL $*"; exit 1; }

[ -e "$DEV" ] || fail "device $DEV not found on the verifier"
echo "CHECK e2fsck -fn $DEV"
e2fsck -fn "$DEV" 2>&1
rc=$?
[ "$rc" -eq 0 ] || fail "e2fsck -fn exited $rc: the filesystem on the restored volume has errors"

if [ -n "$CANARY" ]; then
  canary=$(debugfs -R "cat $CANARY" "$DEV" 2>/dev/null | head -c 512)
  if [ -n "$canary" ]; then echo "CANARY $(echo "$canary" | head -1)"; else echo "CANARY missing $CANARY"; fi
fi

if [ -n "$HEARTBEAT" ]; then
  beat=$(debugfs -R "cat $HEARTBEAT" "$DEV" 2>/dev/null | head -1 | tr -dc '0-9')
  if [ -z "$beat" ]; then
    echo "HEARTBEAT missing $HEARTBEAT"
  else
    echo "HEARTBEAT $beat"
    # A heartbeat written after the backup was taken cannot be in it: the restore is not that point in time.
    [ "$beat" -le $((BACKUP_EPOCH + 300)) ] || fail "heartbeat $beat is later than the backup time $BACKUP_EPOCH"
    if [ "$MAX_HEARTBEAT_AGE" -gt 0 ] && [ $((BACKUP_EPOCH - beat)) -gt "$MAX_HEARTBEAT_AGE" ]; then
      fail "heartbeat is $((BACKUP_EPOCH - beat)) s older than the backup (limit $MAX_HEARTBEAT_AGE s)"
    fi
  fi
fi
echo "RESULT PASS"
