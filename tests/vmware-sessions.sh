# VMware part: sessions.  One login per command; Logout at exit; a session
# that expires in the middle of a copy is renewed once and the bytes are
# the same; inspect of a 20 GiB disk reads a few MiB (lazy).
# Sourced by tests/vmware.sh.
vc_arm () { curl -s -X POST --cacert "$VC_CA" "${VC_URL%/sdk}/vcsim/expire-after?bytes=$1" >/dev/null; }

one_login_per_copy () {
  vc_reset
  rm -f "$T/s.raw"
  "$VMI" copy --quiet "${VC_OPTS[@]}" "$VC_SRC" --vm "$(vc_moref db 0)" --disk 0 "$T/s.raw" \
    && cmp "$T/s.raw" "$D/stream.ref" || return 1
  echo "logins: $(vc_stat logins), sessions left: $(vc_stat sessions)"
  [ "$(vc_stat logins)" = 1 ] && [ "$(vc_stat sessions)" = 0 ]
}
check "one login per vmimport copy, logged out at exit" one_login_per_copy

one_login_per_mount () {
  vc_reset
  mount_fs "$VC_SRC" "$T/mnt2" "${VC_OPTS[@]}" || return 1
  cmp "$T/mnt2/test/app/disk-0.img" "$D/chain.ref" \
    && cmp "$T/mnt2/test/app/disk-1.img" "$D/bl0.ref" \
    && cmp "$T/mnt2/test/app/disk-2.img" "$D/sas0.ref" || return 1
  unmount_fs "$T/mnt2" || return 1
  echo "logins: $(vc_stat logins)"
  [ "$(vc_stat logins)" = 1 ]
}
check "one login for a mount and the reads of a whole VM's disks" one_login_per_mount

relogin_mid_copy () {
  vc_reset
  vc_arm 300000   # the session dies after ~300 kB of disk bytes
  rm -f "$T/r.raw"
  "$VMI" copy --quiet --jobs 2 "${VC_OPTS[@]}" "$VC_SRC" --vm "$(vc_moref app 0)" --disk 1 "$T/r.raw" \
    && cmp "$T/r.raw" "$D/sparse.ref" || return 1
  echo "logins: $(vc_stat logins), folder bytes: $(vc_stat folder_bytes)"
  [ "$(vc_stat logins)" = 2 ]
}
check "session expired mid-copy: same bytes, exactly one more login" relogin_mid_copy

relogin_soap () {
  # Expired between two SOAP calls of one command: the mount's inventory
  # still works (login, expire right after, then a read re-logs in).
  vc_reset
  mount_fs "$VC_SRC" "$T/mnt3" "${VC_OPTS[@]}" || return 1
  vc_expire
  cmp "$T/mnt3/prod/web/app/disk-0.img" "$D/flat.ref" || return 1
  unmount_fs "$T/mnt3" || return 1
  [ "$(vc_stat logins)" = 2 ]
}
check "session expired while mounted: the next read logs in again" relogin_soap

lazy_inspect () {
  vc_reset
  "$VMI" ls "${VC_OPTS[@]}" "$VC_SRC" >/dev/null || return 1
  local ls_bytes; ls_bytes=$(vc_stat folder_bytes)
  "$VMI" inspect "${VC_OPTS[@]}" "$VC_SRC" --vm big --disk 0 >/dev/null || return 1
  local b; b=$(vc_stat folder_bytes)
  echo "ls read $ls_bytes bytes from /folder; inspect of 20 GiB read $b"
  [ "$ls_bytes" = 0 ] && [ "$b" -gt 0 ] && [ "$b" -lt $((8 << 20)) ]
}
check "lazy: ls reads nothing from /folder, inspect of a 20 GiB disk a few MiB" lazy_inspect

relogin_soap_call () {
  # The session dies after the 4th SOAP call of `vmimport ls` (mid
  # inventory): the next call meets NotAuthenticated, logs in once more and
  # is repeated.
  "$VMI" ls --json "${VC_OPTS[@]}" "$VC_SRC" > "$T/ls1.json" || return 1
  vc_reset
  curl -s -X POST --cacert "$VC_CA" "${VC_URL%/sdk}/vcsim/expire-after?calls=4" >/dev/null
  "$VMI" ls --json "${VC_OPTS[@]}" "$VC_SRC" > "$T/ls2.json" || return 1
  cmp "$T/ls2.json" "$T/ls1.json" || return 1
  echo "logins: $(vc_stat logins)"
  [ "$(vc_stat logins)" = 2 ]
}
check "NotAuthenticated on a SOAP call: one re-login, the call repeated" relogin_soap_call

# vmimport import opens the source once for all its steps (preflight,
# each disk's copy, the manifest): one login, logged out at exit.  Before,
# the manifest (twice) and each copy were child commands, each logging in.
# The VM is test/app: its name is also prod/web's, spec.folder tells them
# apart.
one_login_per_import () {
  vc_reset
  cat > "$T/vmw-import.yaml" <<'YAML'
apiVersion: migration.harvesterhci.io/v1beta1
kind: VirtualMachineImport
metadata:
  name: app
  namespace: default
spec:
  virtualMachineName: app
  folder: test
  networkMapping:
  - sourceNetwork: "VM Network"
    destinationNetwork: "prod/vmnet"
YAML
  rm -rf "$T"/imp-*.raw "$T/imp-out"; mkdir -p "$T/imp-out"
  "$VMI" import -f "$T/vmw-import.yaml" "${VC_OPTS[@]}" "$VC_SRC" --out "$T/imp-out" \
    --target "disk-0=$T/imp-0.raw" --target "disk-1=$T/imp-1.raw" \
    --target "disk-2=$T/imp-2.raw" > "$T/imp.log" || { cat "$T/imp.log"; return 1; }
  cmp "$T/imp-0.raw" "$D/chain.ref" && cmp "$T/imp-1.raw" "$D/bl0.ref" \
    && cmp "$T/imp-2.raw" "$D/sas0.ref" \
    && grep -q 'kind: VirtualMachine$' "$T/imp-out/app.yaml" || return 1
  echo "logins: $(vc_stat logins), sessions left: $(vc_stat sessions)"
  [ "$(vc_stat logins)" = 1 ] && [ "$(vc_stat sessions)" = 0 ]
}
check "one login per vmimport import (preflight, three copies, manifest)" one_login_per_import
