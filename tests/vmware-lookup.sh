# VMware part: naming one VM (--vm ID, --vm NAME, DC/FOLDER/VM) reads only
# that VM's properties, counted by the peer (vm_objects: VirtualMachine
# objects the property collector sent; vm_configs: those with their device
# list, i.e. fully described), and gives the same vm.json as the full
# inventory; a datacenter inside a folder (F0/DC1).  Sourced by
# tests/vmware.sh.
DB=${DB:-$(vc_moref db 0)}; APP=${APP:-$(vc_moref app 0)}
LAB=$(vc_moref lab 0)
# VMs of DC0 in the spec: what the full inventory describes.
NDC0=$(python3 -c 'import json,sys; print(sum(1 for v in json.load(open(sys.argv[1]))["vms"] if not v.get("datacenter")))' "$T/spec.json")

counts () { echo "vm_objects $(vc_stat vm_objects), vm_configs $(vc_stat vm_configs), soap_calls $(vc_stat soap_calls)"; }

full_ls () {
  vc_reset
  "$VMI" ls --json "${VC_OPTS[@]}" "$VC_SRC" > "$T/full.json" || return 1
  counts
  [ "$(vc_stat vm_configs)" = "$NDC0" ] && [ "$(vc_stat vm_objects)" = "$NDC0" ]
}
check "vmimport ls: every VM of the datacenter fully described ($NDC0, counted by the peer)" full_ls

# same_json FILE ID...: the VMs of FILE are those of the full inventory
# with these IDs, byte for byte.
same_json () {
  python3 - "$T/full.json" "$@" <<'PY'
import json, sys
full = {v["id"]: v for v in json.load(open(sys.argv[1]))}
got = json.load(open(sys.argv[2]))
want = [full[i] for i in sys.argv[3:]]
dump = lambda l: json.dumps(sorted(l, key=lambda v: v["id"]), indent=1, sort_keys=True).splitlines()
import difflib
d = list(difflib.unified_diff(dump(want), dump(got), "full inventory", "one VM", lineterm=""))
print("\n".join(d))
sys.exit(1 if d else 0)
PY
}

# The open is counted with ls; a copy also asks the VM's power state (one
# more object, one property) before it reads.
by_id () {
  vc_reset
  "$VMI" ls --json "${VC_OPTS[@]}" "$VC_SRC" --vm "$DB" > "$T/byid.json" || return 1
  counts
  [ "$(vc_stat vm_objects)" = 1 ] && [ "$(vc_stat vm_configs)" = 1 ] \
    && same_json "$T/byid.json" "$DB" || return 1
  vc_reset
  rm -f "$T/byid.raw"
  "$VMI" copy --quiet "${VC_OPTS[@]}" "$VC_SRC" --vm "$DB" --disk 0 "$T/byid.raw" || return 1
  counts
  [ "$(vc_stat vm_configs)" = 1 ] && cmp "$T/byid.raw" "$D/stream.ref"
}
check "--vm ID: only that VM read (1 object), same vm.json; copy = qemu-img" by_id

by_name () {
  vc_reset
  "$VMI" ls --json "${VC_OPTS[@]}" "$VC_SRC" --vm db > "$T/byname.json" || return 1
  counts
  # One pass over the names (NDC0 objects with their name only), then the
  # one match in full.
  [ "$(vc_stat vm_configs)" = 1 ] && [ "$(vc_stat vm_objects)" = $((NDC0 + 1)) ] \
    && same_json "$T/byname.json" "$DB" || return 1
  vc_reset
  rm -f "$T/byname.raw"
  "$VMI" copy --quiet "${VC_OPTS[@]}" "$VC_SRC" --vm db --disk 1 "$T/byname.raw" || return 1
  counts
  [ "$(vc_stat vm_configs)" = 1 ] && cmp "$T/byname.raw" "$D/split.ref"
}
check "--vm NAME: names only, then that VM in full, same vm.json; copy = qemu-img" by_name

twice () {
  vc_reset
  "$VMI" ls --json "${VC_OPTS[@]}" "$VC_SRC" --vm app > "$T/twice.json" || return 1
  counts
  [ "$(vc_stat vm_configs)" = 2 ] && same_json "$T/twice.json" "$APP" "$(vc_moref app 1)"
}
check "--vm NAME used in two folders: both found (and only they read in full)" twice
check_fails "copy --vm NAME used in two folders asks for the ID, listing both" \
  "several VMs are named 'app'.*$APP" \
  "$VMI" copy --quiet "${VC_OPTS[@]}" "$VC_SRC" --vm app --disk 0 "$T/twice.raw"
check_fails "--vm ID of no VM: named as unknown" "no VM named 'vm-99999'" \
  "$VMI" copy --quiet "${VC_OPTS[@]}" "$VC_SRC" --vm vm-99999 --disk 0 "$T/none.raw"
check_fails "--vm ID of another datacenter's VM is not this datacenter's" "no VM named '$LAB'" \
  "$VMI" copy --quiet "${VC_OPTS[@]}" "$VC_SRC" --vm "$LAB" --disk 0 "$T/other.raw"

folder_and_name () {
  "$VMI" ls --json "${VC_OPTS[@]}" "$VC_SRC/prod" --vm app > "$T/fn.json" \
    && same_json "$T/fn.json" "$APP"
}
check "vmware://.../DC/FOLDER --vm NAME: only the VM of that name under FOLDER" folder_and_name

# --vm FOLDER/NAME is looked up with FindByInventoryPath: one VM read, and
# the CLI takes that VM (it matches FOLDER/NAME as the mount shows it).
vm_path () {
  vc_reset
  "$VMI" ls --json "${VC_OPTS[@]}" "$VC_SRC" --vm prod/web/app > "$T/vmpath.json" || return 1
  counts
  [ "$(vc_stat vm_objects)" = 1 ] && [ "$(vc_stat vm_configs)" = 1 ] || return 1
  python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
v = v if isinstance(v, list) else [v]
assert [(x["name"], x["source"]["folder"]) for x in v] == [("app", "prod/web")], v
' "$T/vmpath.json"
}
check "--vm FOLDER/NAME (FindByInventoryPath): only that VM read" vm_path

url_vm () {
  vc_reset
  "$VMI" ls --json "${VC_OPTS[@]}" "$VC_SRC/prod/web/app" > "$T/urlvm.json" || return 1
  counts
  [ "$(vc_stat vm_objects)" = 1 ] && same_json "$T/urlvm.json" "$APP"
}
check "vmware://.../DC/FOLDER/VM (FindByInventoryPath): 1 object read, same vm.json" url_vm

# A datacenter inside a folder: vmware://USER@HOST/F0/DC1[/FOLDER[/VM]].
DC1_SRC="vmware://admin%40vsphere.local@$VC_HOST/F0/DC1"
dc_in_folder () {
  "$VMI" ls --json "${VC_OPTS[@]}" "$DC1_SRC" > "$T/dc1.json" || return 1
  python3 - "$T/dc1.json" "$LAB" "$VC_HOST" <<'PY' || return 1
import json, sys
v = json.load(open(sys.argv[1]))
want = [{"id": sys.argv[2], "name": "lab", "folder": "team",
         "where": "vmware://%s/F0/DC1/team" % sys.argv[3], "network": "DC1_DVPG0",
         "mac": "00:50:56:01:0d:01", "guest_tools": "running", "cpus": 2}]
got = [{"id": x["id"], "name": x["name"], "folder": x["source"]["folder"],
        "where": x["source"]["where"], "network": x["nics"][0]["network"],
        "mac": x["nics"][0]["mac"], "guest_tools": x["guest_tools"], "cpus": x["cpus"]}
       for x in v]
print(got)
sys.exit(0 if got == want else 1)
PY
  rm -f "$T/dc1.raw"
  "$VMI" copy --quiet "${VC_OPTS[@]}" "$DC1_SRC" --vm lab --disk 0 "$T/dc1.raw" \
    && cmp "$T/dc1.raw" "$D/flat.ref" || return 1
  "$VMI" ls --json "${VC_OPTS[@]}" "$DC1_SRC/team/lab" > "$T/dc1-one.json" \
    && [ "$(python3 -c 'import json,sys; print([v["id"] for v in json.load(open(sys.argv[1]))])' "$T/dc1-one.json")" = "['$LAB']" ]
}
check "datacenter in a folder (F0/DC1): ls, copy = qemu-img (dcPath=F0/DC1), FOLDER/VM" dc_in_folder
check_fails "no datacenter on the path: the path and the datacenters named" \
  "datacenter F0/nope not found \\(no datacenter on the path F0/nope/x; the datacenters are: DC0, F0/DC1\\)" \
  "$VMI" ls "${VC_OPTS[@]}" "vmware://admin%40vsphere.local@$VC_HOST/F0/nope/x"
check_fails "a path of folders only: said so, the datacenters named" \
  "no datacenter on the path F0 \\(F0 is a Folder; the datacenters are: DC0, F0/DC1\\)" \
  "$VMI" ls "${VC_OPTS[@]}" "vmware://admin%40vsphere.local@$VC_HOST/F0"

# A server that faults ManagedObjectNotFound for an unknown ID (no
# reportMissingObjectsInResults): the ID is then looked up as a name.
no_missing_flag () {
  curl -s -X POST --cacert "$VC_CA" "${VC_URL%/sdk}/vcsim/no-missing-flag?on=1" >/dev/null
  "$VMI" copy --quiet "${VC_OPTS[@]}" "$VC_SRC" --vm vm-99999 --disk 0 "$T/nm.raw" > "$T/nm.out" 2>&1
  local rc=$?
  "$VMI" ls --json "${VC_OPTS[@]}" "$VC_SRC" --vm "$DB" > "$T/nm.json"
  local rc2=$?
  curl -s -X POST --cacert "$VC_CA" "${VC_URL%/sdk}/vcsim/no-missing-flag?on=0" >/dev/null
  cat "$T/nm.out"
  [ $rc -ne 0 ] && grep -q "no VM named 'vm-99999'" "$T/nm.out" && [ $rc2 = 0 ] \
    && same_json "$T/nm.json" "$DB"
}
check "an unknown ID on a server that faults ManagedObjectNotFound: named as unknown" no_missing_flag

# VmwareSource with a datacenter in a folder: spec.dc is its path.
yaml_dc_in_folder () {
  cat > "$T/dc1.yaml" <<EOF2
apiVersion: migration.harvesterhci.io/v1beta1
kind: VmwareSource
metadata: { name: lab, namespace: default }
spec:
  endpoint: "$VC_URL"
  dc: F0/DC1
  credentials: { name: lab-credentials, namespace: default }
---
apiVersion: v1
kind: Secret
metadata: { name: lab-credentials, namespace: default }
stringData:
  username: "$VC_USER"
  password: "$(cat "$VC_PW")"
  caCert: |
$(sed 's/^/    /' "$VC_CA")
EOF2
  rm -f "$T/dc1y.raw"
  "$VMI" copy --quiet --source-file "$T/dc1.yaml" --vm "$LAB" --disk 0 "$T/dc1y.raw" \
    && cmp "$T/dc1y.raw" "$D/flat.ref"
}
check "VmwareSource spec.dc F0/DC1 (a datacenter in a folder): copy = qemu-img" yaml_dc_in_folder
