# VMware part: power.  poweroff graceful / hard after the timeout when the
# guest ignores it / --force; a running VM's disk is refused unless
# --allow-running or --snapshot (one snapshot, removed, also on failure).
# Sourced by tests/vmware.sh.
RUN=$(vc_moref running 0)

check_fails "a running VM's disk is refused without --allow-running/--snapshot" \
  "VM running \\($RUN\\) is poweredOn: .*--snapshot.*--allow-running" \
  "$VMI" copy --quiet "${VC_OPTS[@]}" "$VC_SRC" --vm running --disk 0 "$T/run0.raw"

allow_running () {
  rm -f "$T/run1.raw"
  "$VMI" copy --quiet --allow-running "${VC_OPTS[@]}" "$VC_SRC" --vm running --disk 0 "$T/run1.raw" \
    2> "$T/run1.err" || { cat "$T/run1.err"; return 1; }
  cat "$T/run1.err"
  grep -q "crash-consistent" "$T/run1.err" && cmp "$T/run1.raw" "$D/ide0.ref" \
    && [ "$(vc_stat snapshots_created)" = 0 ]
}
vc_reset
check "--allow-running: read, said loudly, no snapshot" allow_running

snapshot_copy () {
  vc_reset
  rm -f "$T/run2.raw"
  "$VMI" copy --quiet --snapshot "${VC_OPTS[@]}" "$VC_SRC" --vm running --disk 0 "$T/run2.raw" \
    && cmp "$T/run2.raw" "$D/ide0.ref" || return 1
  echo "created $(vc_stat snapshots_created), removed $(vc_stat snapshots_removed)"
  [ "$(vc_stat snapshots_created)" = 1 ] && [ "$(vc_stat snapshots_removed)" = 1 ]
}
check "--snapshot: exactly one snapshot, removed at the end, same bytes" snapshot_copy

snapshot_failed_copy () {
  vc_reset
  if "$VMI" copy --quiet --snapshot "${VC_OPTS[@]}" "$VC_SRC" --vm running --disk 0 \
       "$T/no/such/dir/x.raw"; then
    echo "the copy succeeded"; return 1
  fi
  echo "created $(vc_stat snapshots_created), removed $(vc_stat snapshots_removed)"
  [ "$(vc_stat snapshots_created)" = 1 ] && [ "$(vc_stat snapshots_removed)" = 1 ]
}
check "--snapshot: the snapshot is removed when the copy fails" snapshot_failed_copy

mount_running () {
  vc_reset
  mount_fs "$VC_SRC" "$T/mnt-run" "${VC_OPTS[@]}" || return 1
  if cat "$T/mnt-run/power/running/disk-0.img" > /dev/null 2>&1; then
    echo "a running VM's disk was readable through the mount"; return 1
  fi
  unmount_fs "$T/mnt-run" || return 1
  mount_fs "$VC_SRC" "$T/mnt-snap" "${VC_OPTS[@]}" --snapshot || return 1
  cmp "$T/mnt-snap/power/running/disk-0.img" "$D/ide0.ref" || return 1
  [ "$(vc_stat snapshots_created)" = 1 ] && [ "$(vc_stat snapshots_removed)" = 0 ] || return 1
  unmount_fs "$T/mnt-snap" || return 1
  for i in $(seq 1 50); do [ "$(vc_stat snapshots_removed)" = 1 ] && break; sleep 0.1; done
  echo "created $(vc_stat snapshots_created), removed $(vc_stat snapshots_removed)"
  [ "$(vc_stat snapshots_removed)" = 1 ]
}
check "vmimportfs: a running VM's disk is refused; with --snapshot read, the snapshot removed at unmount" mount_running

insecure () {
  "$VMI" ls --insecure --password-file "$VC_PW" "$VC_SRC" > /dev/null
}
check "--insecure skips TLS verification (never the default)" insecure

# vc_json_of VM KEY: a field of the VM's vm.json
vc_json_of () {
  "$VMI" ls --json "${VC_OPTS[@]}" "$VC_SRC" --vm "$1" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)[0][sys.argv[1]])' "$2"
}
power_of () { vc_json_of "$1" power_state; }

graceful () {
  vc_reset
  [ "$(vc_json_of graceful guest_tools)" = running ] || return 1
  "$VMI" poweroff "${VC_OPTS[@]}" "$VC_SRC" graceful --graceful-timeout 30 || return 1
  echo "shutdown_guest $(vc_stat shutdown_guest), power_off $(vc_stat power_off)"
  [ "$(power_of graceful)" = off ] && [ "$(vc_stat shutdown_guest)" = 1 ] \
    && [ "$(vc_stat power_off)" = 0 ]
}
check "poweroff: the guest shuts down (ShutdownGuest, no hard power-off)" graceful

stubborn () {
  vc_reset
  local t0 t1
  t0=$(date +%s.%N)
  "$VMI" poweroff "${VC_OPTS[@]}" "$VC_SRC" --vm stubborn --graceful-timeout 2 || return 1
  t1=$(date +%s.%N)
  echo "took $(echo "$t1 - $t0" | bc 2>/dev/null || python3 -c "print($t1-$t0)") s;" \
       "shutdown_guest $(vc_stat shutdown_guest), power_off $(vc_stat power_off)"
  [ "$(power_of stubborn)" = off ] && [ "$(vc_stat shutdown_guest)" = 1 ] \
    && [ "$(vc_stat power_off)" = 1 ] \
    && python3 -c "import sys; sys.exit(0 if $t1 - $t0 >= 2 else 1)"
}
check "poweroff: a guest that ignores the request is powered off hard after the timeout" stubborn

# guest.toolsRunningStatus (vm.json's guest_tools) is read before
# ShutdownGuest: without Tools the guest is not asked; hard after the
# timeout.
notools () {
  vc_reset
  [ "$(vc_json_of notools guest_tools)" = not-running ] || return 1
  local t0 t1
  t0=$(date +%s.%N)
  "$VMI" poweroff "${VC_OPTS[@]}" "$VC_SRC" notools --graceful-timeout 1 2> "$T/notools.err" || return 1
  t1=$(date +%s.%N)
  cat "$T/notools.err"
  echo "shutdown_guest $(vc_stat shutdown_guest), power_off $(vc_stat power_off)"
  grep -q "VMware Tools are not running" "$T/notools.err"     && [ "$(power_of notools)" = off ] && [ "$(vc_stat shutdown_guest)" = 0 ]     && [ "$(vc_stat power_off)" = 1 ]     && python3 -c "import sys; sys.exit(0 if $t1 - $t0 >= 1 else 1)"
}
check "poweroff: Tools not running (guest_tools): no ShutdownGuest, hard after the timeout" notools

forced () {
  vc_reset
  "$VMI" poweroff --force "${VC_OPTS[@]}" "$VC_SRC" forced || return 1
  [ "$(power_of forced)" = off ] && [ "$(vc_stat shutdown_guest)" = 0 ] \
    && [ "$(vc_stat power_off)" = 1 ]
}
check "poweroff --force: hard at once, no ShutdownGuest" forced

already_off () {
  vc_reset
  "$VMI" poweroff "${VC_OPTS[@]}" "$VC_SRC" db && [ "$(vc_stat power_off)" = 0 ] \
    && [ "$(vc_stat shutdown_guest)" = 0 ]
}
check "poweroff of a VM already off does nothing" already_off
check_fails "poweroff of a name used twice asks for the ID" "several VMs are named 'app'" \
  "$VMI" poweroff "${VC_OPTS[@]}" "$VC_SRC" app
check_fails "poweroff of an unknown VM names it" "no VM named 'ghost'" \
  "$VMI" poweroff "${VC_OPTS[@]}" "$VC_SRC" ghost
