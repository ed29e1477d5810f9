# VMware part: disk bytes read in place (every disk kind, every controller)
# against qemu-img convert -O raw, vm.json field by field, folders in the
# mount.  Sourced by tests/vmware.sh.

# copy_cmp ID DISK REF: vmimport copy of one disk equals the reference.
copy_cmp () {
  local out="$T/copy-$1-$2.raw"
  rm -f "$out"
  "$VMI" copy --quiet "${VC_OPTS[@]}" "$VC_SRC" --vm "$1" --disk "$2" "$out" \
    && cmp "$3" "$out" && rm -f "$out"
}

APP=$(vc_moref app 0); DB=$(vc_moref db 0); APP2=$(vc_moref app 1)
check "monolithicFlat on pvscsi: copy = qemu-img"  copy_cmp "$APP" 0 "$D/flat.ref"
check "monolithicSparse on sata: copy = qemu-img"  copy_cmp "$APP" 1 "$D/sparse.ref"
check "streamOptimized on lsilogic: copy = qemu-img" copy_cmp "$DB" 0 "$D/stream.ref"
check "twoGbMaxExtentSparse (2 extents) on nvme: copy = qemu-img" copy_cmp "$DB" 1 "$D/split.ref"
check "3-deep snapshot chain on ide: copy = qemu-img" copy_cmp "$APP2" 0 "$D/chain.ref"
check "monolithicFlat on buslogic: copy = qemu-img" copy_cmp "$APP2" 1 "$D/bl0.ref"
check "monolithicSparse on lsilogic-sas: copy = qemu-img" copy_cmp "$APP2" 2 "$D/sas0.ref"
check "linked clone (parent named /vmfs/volumes/DS/...): copy = qemu-img" copy_cmp clone 0 "$D/lclone.ref"

# vm.json of every VM against the spec the peer was built from and the
# MACs it reports.
vmjson_matches () {
  vc_reset
  "$VMI" ls --json "${VC_OPTS[@]}" "$VC_SRC" > "$T/ls.json" || return 1
  echo "ContinueRetrievePropertiesEx calls: $(vc_stat continue_calls)"
  [ "$(vc_stat continue_calls)" -ge 3 ] || return 1
  python3 - "$T/spec.json" "$VC_DIR/state.json" "$T/ls.json" "$VC_HOST" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1])); state = json.load(open(sys.argv[2]))
got = {v["id"]: v for v in json.load(open(sys.argv[3]))}
host = sys.argv[4]
bus = {"pvscsi": "scsi", "lsilogic": "scsi", "lsilogic-sas": "scsi", "buslogic": "scsi",
       "sata": "sata", "ide": "ide", "nvme": "nvme"}
bad = []
def eq(what, a, b):
    if a != b: bad.append("%s: got %r, want %r" % (what, a, b))
pairs = [(sv, st) for sv, st in zip(spec["vms"], state["vms"]) if not sv.get("datacenter")]
eq("number of VMs", len(got), len(pairs))
tools = {"running": "running", "not-running": "not-running", "unknown": None, None: "not-running"}
for sv, st in pairs:
    v = got.get(st["moref"])
    if v is None:
        bad.append("VM %s (%s) missing" % (sv["name"], st["moref"])); continue
    w = sv["name"] + "/" + st["moref"]
    eq(w + " name", v["name"], sv["name"])
    eq(w + " folder", v["source"].get("folder"), sv["folder"] or None)
    eq(w + " kind", v["source"]["kind"], "vmware")
    eq(w + " where", v["source"]["where"],
       "vmware://%s/DC0%s" % (host, "/" + sv["folder"] if sv["folder"] else ""))
    eq(w + " cpus", v["cpus"], sv["cpus"])
    eq(w + " cores", v["cores_per_socket"], sv["cores"])
    eq(w + " memory", v["memory_mib"], sv["memory_mb"])
    eq(w + " firmware", v["firmware"], sv["firmware"])
    eq(w + " secure_boot", v["secure_boot"], bool(sv.get("secure_boot", False)))
    eq(w + " guest_os", v["guest_os"], sv["guest"])
    eq(w + " guest_tools", v["guest_tools"], tools[sv.get("tools")])
    eq(w + " power", v["power_state"], "on" if sv.get("power_on") else "off")
    eq(w + " disks", len(v["disks"]), len(sv["disks"]))
    for i, (d, sd) in enumerate(zip(v["disks"], sv["disks"])):
        eq("%s disk %d capacity" % (w, i), d["capacity"], sd["capacity_kb"] * 1024)
        eq("%s disk %d bus" % (w, i), d["bus"], bus[sv["controllers"][sd["controller"]]])
        eq("%s disk %d source_name" % (w, i), d["source_name"], "[LocalDS_0] " + sd["datastore_path"])
        eq("%s disk %d file" % (w, i), d["file"], "disk-%d.img" % i)
    eq(w + " nics", len(v["nics"]), len(sv["nics"]))
    for i, (n, sn) in enumerate(zip(v["nics"], sv["nics"])):
        eq("%s nic %d model" % (w, i), n["model"], sn["type"])
        eq("%s nic %d network" % (w, i), n["network"], sn["network"])
        eq("%s nic %d mac" % (w, i), n["mac"], st["macs"][i])
        if sn.get("mac"): eq("%s nic %d mac as created" % (w, i), n["mac"], sn["mac"])
for b in bad: print(b)
sys.exit(1 if bad else 0)
PY
}
check "vm.json of every VM matches what was created, field by field (inventory paged)" vmjson_matches

# The mount: folders as folders, the same name in two folders, bytes.
MNT="$T/mnt"
mount_check () {
  mount_fs "$VC_SRC" "$MNT" "${VC_OPTS[@]}" || return 1
  local f
  for f in prod/web/app/vm.json prod/web/app/disk-0.img prod/web/app/disk-1.img \
           prod/db/db/disk-1.img test/app/disk-0.img test/app/disk-2.img \
           big/disk-0.img power/stubborn/vm.json; do
    [ -e "$MNT/$f" ] || { echo "missing $f"; ls -R "$MNT"; return 1; }
  done
  cmp "$MNT/prod/web/app/disk-0.img" "$D/flat.ref" \
    && cmp "$MNT/prod/web/app/disk-1.img" "$D/sparse.ref" \
    && cmp "$MNT/prod/db/db/disk-0.img" "$D/stream.ref" \
    && cmp "$MNT/test/app/disk-0.img" "$D/chain.ref" \
    && [ "$(stat -c %s "$MNT/big/disk-0.img")" = $((20 << 30)) ] \
    && grep -q '"folder": "test"' "$MNT/test/app/vm.json"
}
check "mount: MOUNT/<folder>/<sub>/<vm>/, a name in two folders, bytes = qemu-img" mount_check
unmount_fs "$MNT" >/dev/null 2>&1

folder_url () {
  "$VMI" ls --json "${VC_OPTS[@]}" "$VC_SRC/prod" > "$T/ls-prod.json" \
    && python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); n=sorted(x["source"]["folder"] for x in v); sys.exit(0 if n==["prod/db","prod/web"] else print(n) or 1)' "$T/ls-prod.json"
}
check "vmware://USER@HOST/DC/FOLDER lists only the VMs under FOLDER" folder_url

yaml_source () {
  cat > "$T/src.yaml" <<EOF2
apiVersion: migration.harvesterhci.io/v1beta1
kind: VmwareSource
metadata: { name: vcsim, namespace: default }
spec:
  endpoint: "${1:-$VC_URL}"
  dc: DC0
  credentials: { name: vcsim-credentials, namespace: default }
---
apiVersion: v1
kind: Secret
metadata: { name: vcsim-credentials, namespace: default }
stringData:
  username: "$VC_USER"
  password: "$(cat "$VC_PW")"
  caCert: |
$(sed 's/^/    /' "$VC_CA")
EOF2
  rm -f "$T/yaml.raw"
  "$VMI" copy --quiet --source-file "$T/src.yaml" --vm "$APP" --disk 0 "$T/yaml.raw" \
    && cmp "$T/yaml.raw" "$D/flat.ref"
}
check "VmwareSource YAML + Secret (username, password, caCert): copy = qemu-img" yaml_source
check "VmwareSource endpoint https://HOST (no /sdk) works too" yaml_source "https://$VC_HOST"
check "--user NAME (a name with @) instead of USER@ in the URL" \
  "$VMI" ls "${VC_OPTS[@]}" --user "$VC_USER" "vmware://$VC_HOST/DC0"
ls_text () {
  "$VMI" ls "${VC_OPTS[@]}" "$VC_SRC" > "$T/ls.txt" || return 1
  cat "$T/ls.txt"
  grep -q "^prod/web/app  id=$APP  power=off  cpus=4 " "$T/ls.txt" \
    && grep -q "^test/app  id=$APP2  power=off  cpus=1 " "$T/ls.txt"
}
check "vmimport ls: folder/name and ID tell a repeated name apart" ls_text

# vmimport serve of a vCenter: the same tree over HTTP, the disk read from
# the datastore as it is asked for.
serve_vcenter () {
  "$VMI" serve --listen 127.0.0.1:0 "${VC_OPTS[@]}" "$VC_SRC" >"$T/serve.url" 2>"$T/serve.err" &
  local pid=$! i url
  at_exit "kill $pid"
  for i in $(seq 1 100); do [ -s "$T/serve.url" ] && break; sleep 0.1; done
  url=$(head -n 1 "$T/serve.url")
  [ -n "$url" ] || { cat "$T/serve.err"; return 1; }
  curl -sf "${url}prod/db/db/disk-0.img" -o "$T/serve.raw" && cmp "$T/serve.raw" "$D/stream.ref" \
    && curl -sf "${url}test/app/vm.json" | grep -q '"folder": "test"'
  local rc=$?
  kill "$pid"; wait "$pid" 2>/dev/null
  return $rc
}
check "vmimport serve of a vCenter: folders, a disk = qemu-img" serve_vcenter

one_vm_url () {
  "$VMI" ls --json "${VC_OPTS[@]}" "$VC_SRC/prod/web/app" > "$T/one.json" || return 1
  python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); print([(x["id"], x["source"]["folder"]) for x in v]); sys.exit(0 if [(x["id"], x["source"]["folder"]) for x in v]==[(sys.argv[2],"prod/web")] else 1)' "$T/one.json" "$APP" || return 1
  rm -f "$T/one.raw"
  "$VMI" copy --quiet "${VC_OPTS[@]}" "$VC_SRC/prod/web/app" --disk 0 "$T/one.raw" \
    && cmp "$T/one.raw" "$D/flat.ref"
}
check "vmware://USER@HOST/DC/FOLDER/VM names one VM (no --vm needed)" one_vm_url
