# VMware part: a standalone ESXi host (the ESX model of the simulator):
# datacenter ha-datacenter, no folders, the same API.
# Sourced by tests/vmware.sh.
esx_setup () {
  cat > "$T/esx-spec.json" <<EOF2
{"user": "root", "password": "$(cat "$VC_PW")", "vms": [
 {"name": "esxvm", "folder": "", "guest": "ubuntu64Guest", "cpus": 2, "cores": 2,
  "memory_mb": 768, "firmware": "efi", "secure_boot": true,
  "controllers": ["pvscsi", "sata"],
  "disks": [
    {"controller": 0, "datastore_path": "esxvm/stream.vmdk", "files": $(vmdk_files stream), "capacity_kb": $(vmdk_kb stream)},
    {"controller": 1, "datastore_path": "esxvm/flat.vmdk", "files": $(vmdk_files flat), "capacity_kb": $(vmdk_kb flat)}],
  "nics": [{"type": "vmxnet3", "network": "VM Network", "mac": "00:50:56:0a:0b:0c"}]}]}
EOF2
  # Sessions die after 1.5 s idle, as a host's would after its timeout.
  start_vcsim "$T/esx-spec.json" "$T/esx" -esx -idle 1.5 || return 1
  ESX_URL=$(json_get "$T/esx/state.json" url)
  ESX_HOST=${ESX_URL#https://}; ESX_HOST=${ESX_HOST%/sdk}
  ESX_SRC="vmware://root@$ESX_HOST/ha-datacenter"
  ESX_OPTS=(--ca-cert "$T/esx/ca.pem" --password-file "$VC_PW")
  [ "$(json_get "$T/esx/state.json" datacenter)" = ha-datacenter ]
}
check "ESX model peer starts (datacenter ha-datacenter)" esx_setup

esx_bytes () {
  rm -f "$T/esx0.raw" "$T/esx1.raw"
  "$VMI" copy --quiet "${ESX_OPTS[@]}" "$ESX_SRC" --vm esxvm --disk 0 "$T/esx0.raw" \
    && "$VMI" copy --quiet "${ESX_OPTS[@]}" "$ESX_SRC" --vm esxvm --disk 1 "$T/esx1.raw" \
    && cmp "$T/esx0.raw" "$D/stream.ref" && cmp "$T/esx1.raw" "$D/flat.ref"
}
check "ESXi: disks read in place = qemu-img" esx_bytes

esx_json () {
  "$VMI" ls --json "${ESX_OPTS[@]}" "$ESX_SRC" > "$T/esx.json" || return 1
  python3 - "$T/esx.json" "$ESX_HOST" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
assert len(v) == 1, v
v = v[0]
want = {"name": "esxvm", "cpus": 2, "cores_per_socket": 2, "memory_mib": 768,
        "firmware": "efi", "secure_boot": True, "guest_os": "ubuntu64Guest",
        "power_state": "off"}
bad = ["%s: %r != %r" % (k, v[k], w) for k, w in want.items() if v[k] != w]
if v["source"] != {"kind": "vmware", "where": "vmware://%s/ha-datacenter" % sys.argv[2], "folder": None}:
    bad.append("source %r" % v["source"])
if [d["bus"] for d in v["disks"]] != ["scsi", "sata"]: bad.append("bus %r" % v["disks"])
n = v["nics"]
if [(x["model"], x["network"], x["mac"]) for x in n] != [("vmxnet3", "VM Network", "00:50:56:0a:0b:0c")]:
    bad.append("nics %r" % n)
print("\n".join(bad)); sys.exit(1 if bad else 0)
PY
}
check "ESXi: vm.json (no folder, ha-datacenter)" esx_json
esx_idle () {
  curl -s -X POST --cacert "$T/esx/ca.pem" "${ESX_URL%/sdk}/vcsim/reset" >/dev/null
  mount_fs "$ESX_SRC" "$T/mnt-esx" "${ESX_OPTS[@]}" || return 1
  head -c 100000 "$T/mnt-esx/esxvm/disk-1.img" > /dev/null || return 1
  # Logins so far: 1, or 2 when a loaded machine took longer than the
  # session timeout between the mount and this first read.
  local n0 n; n0=$(esx_logins)
  sleep 2   # idle past the host's session timeout
  cmp "$T/mnt-esx/esxvm/disk-1.img" "$D/flat.ref" && unmount_fs "$T/mnt-esx" || return 1
  n=$(esx_logins)
  echo "logins: $n0 before the idle time, $n after"
  [ "$n" = $((n0 + 1)) ]
}
esx_logins () {
  curl -s --cacert "$T/esx/ca.pem" "${ESX_URL%/sdk}/vcsim/stats" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["logins"])'
}
check "ESXi: a session that timed out while idle is renewed by the next read" esx_idle
check_fails "ESXi: a vCenter datacenter name is not found" "datacenter DC0 not found" \
  "$VMI" ls "${ESX_OPTS[@]}" "vmware://root@$ESX_HOST/DC0"
