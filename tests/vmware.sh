#!/usr/bin/env bash
# The VMware source against a vCenter simulator built here (tests/vcsim on
# Debian's govmomi): one peer, started once, for every part
# (tests/vmware-*.sh).  Each part's checks pass or fail on their own.
. "$VMI_SRC/tests/lib.sh"
. "$S/tests/vmware-lib.sh"

check "vcsim builds, the disks are made, the peer starts" setup_vmware
if [ "$FAILS" -ne 0 ]; then
  cat "$T/vc/log" 2>/dev/null
  finish
fi
for part in ${VMW_PARTS:-bytes lookup errors sessions power esx manifest}; do
  echo "--- vmware-$part"
  . "$S/tests/vmware-$part.sh"
done
finish
