#!/usr/bin/env bash
# The VMware sessions part under ThreadSanitizer: readers on several
# threads meet an expired session at once and one of them renews it
# (tests/vmware-sessions.sh, run by tests/vmware.sh).
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:exitcode=66:second_deadlock_stack=1}
export VMW_PARTS=sessions
exec bash "$VMI_SRC/tests/vmware.sh"
