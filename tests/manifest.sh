#!/usr/bin/env bash
# vmimport manifest: every object validates against KubeVirt's and
# Harvester's schemas (strictly: unknown fields are errors), every field
# follows the rules of the VirtualMachineImport it came from, and bad
# mapping values are refused before anything is written, naming the field.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/ova-lib.sh"
. "$VMI_SRC/tests/nbd-lib.sh"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3   # Debian's python3-jsonschema
SCHEMAS=${VMI_SCHEMAS:-$S/tests/schemas}
validate () { "$PY" "$S/tests/k8s-validate.py" "$SCHEMAS" "$@"; }
# yq FILE PY_BOOL_EXPR: on the YAML stream in FILE: docs (list), vm (the
# VirtualMachine), vmspec (its template spec), dom (its domain), pvcs,
# images (lists); prints the stream when false.
yq () {
  "$PY" - "$1" "$2" <<'PY'
import json, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
vm = [d for d in docs if d["kind"] == "VirtualMachine"][0]
vmspec = vm["spec"]["template"]["spec"]
dom = vmspec["domain"]
pvcs = [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
images = [d for d in docs if d["kind"] == "VirtualMachineImage"]
ifaces = dom["devices"].get("interfaces", [])
nets = {n["name"]: n for n in vmspec.get("networks", [])}
ann = vm["metadata"].get("annotations", {})
if not eval(sys.argv[2]):
    print(open(sys.argv[1]).read()); sys.exit(1)
PY
}

# ---- an OVA with everything: EFI + secure boot + TPM, four buses, four NICs
mkdir -p "$T/a"
for i in 1 2 3; do truncate -s $((i * 3))M "$T/a/d$i.img"; done
truncate -s 20000000 "$T/a/d4.img"   # not a whole MiB: rounds up to 20Mi
make_ovf "$T/a/web.ovf" '{"name": "Web Server #1.prod", "cpus": 8, "cores": 4,
  "memory": [8, "byte * 2^30"], "firmware": "efi", "secure_boot": true, "tpm": true,
  "disks": [{"href": "d1.img", "capacity": [3, "byte * 2^20"], "format": "raw", "bus": "pvscsi"},
            {"href": "d2.img", "capacity": [6, "byte * 2^20"], "format": "raw", "bus": "ide"},
            {"href": "d3.img", "capacity": [9, "byte * 2^20"], "format": "raw", "bus": "nvme"},
            {"href": "d4.img", "capacity": 20000000, "format": "raw", "bus": "sata"}],
  "nics": [{"network": "VM Network", "model": "VmxNet3", "mac": "00:50:56:aa:bb:cc"},
           {"network": "dvSwitch 2", "model": "E1000e", "mac": "00:50:56:aa:bb:02"},
           {"network": "Storage", "model": "PCNet32"},
           {"network": "Backup", "model": "SomethingNew"}]}'
make_ova "$T/web.ova" "$T/a" ustar web.ovf d1.img d2.img d3.img d4.img
cat > "$T/import.yaml" <<EOF
apiVersion: migration.harvesterhci.io/v1beta1
kind: VirtualMachineImport
metadata:
  name: web
  namespace: prod
spec:
  virtualMachineName: "Web Server #1.prod"
  networkMapping:
  - sourceNetwork: "dvSwitch 2"
    destinationNetwork: "prod/vlan2"
  - sourceNetwork: "Storage"
    destinationNetwork: "storage-ns/storage"
    networkInterfaceModel: "e1000"
  - sourceNetwork: "Backup"
    destinationNetwork: "prod/backup"
  defaultNetworkInterfaceModel: "rtl8139"
  storageClass: "longhorn-fast"
  defaultDiskBusType: "scsi"
  sourceCluster:
    name: web-ova
    namespace: prod
    kind: OvaSource
    apiVersion: migration.harvesterhci.io/v1beta1
---
apiVersion: migration.harvesterhci.io/v1beta1
kind: OvaSource
metadata:
  name: web-ova
  namespace: prod
spec:
  url: "$T/web.ova"
EOF
check manifest_from_import_file bash -c "'$VMI' manifest -f '$T/import.yaml' > '$T/web.yaml'"
check manifest_validates_strictly validate "$T/web.yaml"
check manifest_objects_in_order yq "$T/web.yaml" \
  '[d["kind"] for d in docs] == ["PersistentVolumeClaim"] * 4 + ["VirtualMachine"]'
check vm_name_is_rfc1123_and_keeps_original yq "$T/web.yaml" \
  '__import__("re").fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", vm["metadata"]["name"]) and vm["metadata"]["name"].startswith("web-server-1-prod-") and ann["migration.harvesterhci.io/source-name"] == "Web Server #1.prod" and vm["metadata"]["namespace"] == "prod"'
check labels_on_every_object yq "$T/web.yaml" \
  'all(d["metadata"]["labels"] == {"migration.harvesterhci.io/imported": "true", "migration.harvesterhci.io/source-kind": "ova"} for d in docs)'
check run_and_eviction_strategy yq "$T/web.yaml" \
  'vm["spec"]["runStrategy"] == "RerunOnFailure" and vmspec["evictionStrategy"] == "LiveMigrateIfPossible"'
check cpu_topology_and_memory yq "$T/web.yaml" \
  'dom["cpu"] == {"sockets": 2, "cores": 4, "threads": 1} and dom["memory"]["guest"] == "8192Mi" and dom["resources"]["limits"] == {"cpu": "8", "memory": "8192Mi"}'
check firmware_efi_secure_boot_smm_tpm yq "$T/web.yaml" \
  'dom["firmware"]["bootloader"] == {"efi": {"secureBoot": True}} and dom["features"]["smm"]["enabled"] is True and dom["devices"]["tpm"] == {}'
check disk_buses_and_boot_order yq "$T/web.yaml" \
  '[(d["name"], d["bootOrder"], d["disk"]["bus"]) for d in dom["devices"]["disks"]] == [("disk-0", 1, "scsi"), ("disk-1", 2, "sata"), ("disk-2", 3, "scsi"), ("disk-3", 4, "sata")]'
check ide_to_sata_is_explained grep -q '^# disk-1: bus sata: .*KubeVirt has no IDE' "$T/web.yaml"
check nvme_to_default_is_explained grep -q '^# disk-2: bus scsi: .*NVMe' "$T/web.yaml"
check pvcs_block_rwx_sizes_class yq "$T/web.yaml" \
  '[(p["spec"]["volumeMode"], p["spec"]["accessModes"], p["spec"]["resources"]["requests"]["storage"], p["spec"]["storageClassName"]) for p in pvcs] == [("Block", ["ReadWriteMany"], s, "longhorn-fast") for s in ["3Mi", "6Mi", "9Mi", "20Mi"]]'
check volumes_name_the_pvcs yq "$T/web.yaml" \
  '[v["persistentVolumeClaim"]["claimName"] for v in vmspec["volumes"]] == [p["metadata"]["name"] for p in pvcs] and [v["name"] for v in vmspec["volumes"]] == [d["name"] for d in dom["devices"]["disks"]] and all(p["metadata"]["name"] == vm["metadata"]["name"] + "-disk-%d" % i for i, p in enumerate(pvcs))'
check nic_models_macs_bindings yq "$T/web.yaml" \
  '[(i["name"], i["model"], i.get("macAddress"), "bridge" in i, "masquerade" in i) for i in ifaces] == [("nic-0", "virtio", "00:50:56:aa:bb:cc", False, True), ("nic-1", "e1000e", "00:50:56:aa:bb:02", True, False), ("nic-2", "e1000", None, True, False), ("nic-3", "rtl8139", None, True, False)]'
check unmapped_nic_on_pod_network yq "$T/web.yaml" \
  'nets["nic-0"] == {"name": "nic-0", "pod": {}} and nets["nic-1"]["multus"] == {"networkName": "prod/vlan2"} and nets["nic-2"]["multus"]["networkName"] == "storage-ns/storage" and nets["nic-3"]["multus"]["networkName"] == "prod/backup"'

# The same VM from flags, with --source-file; no storageClass: the default.
cat > "$T/source.yaml" <<EOF
kind: OvaSource
metadata: {name: web-ova}
spec: {url: "$T/web.ova"}
EOF
check manifest_from_flags bash -c "'$VMI' manifest --source-file '$T/source.yaml' --vm 'Web Server #1.prod' --no-start --network 'dvSwitch 2=prod/vlan2' --network 'Storage=prod/st,pcnet' --network 'Backup=prod/b' > '$T/flags.yaml'"
check manifest_from_flags_validates validate "$T/flags.yaml"
check no_start_is_halted yq "$T/flags.yaml" 'vm["spec"]["runStrategy"] == "Halted"'
check no_storage_class_means_cluster_default yq "$T/flags.yaml" \
  'all("storageClassName" not in p["spec"] for p in pvcs) and vm["metadata"]["namespace"] == "default"'
check default_bus_virtio_for_nvme yq "$T/flags.yaml" \
  '[d["disk"]["bus"] for d in dom["devices"]["disks"]] == ["scsi", "sata", "virtio", "sata"]'
check flag_mapping_model yq "$T/flags.yaml" '[i["model"] for i in ifaces] == ["virtio", "e1000e", "pcnet", "virtio"]'

# Image mode: one VirtualMachineImage per disk, the VM's PVCs from them.
check manifest_image_mode bash -c "'$VMI' manifest -f '$T/import.yaml' --mode image --image-url-base http://10.0.0.5:8080/s3cr3t/ > '$T/image.yaml'"
check image_mode_validates validate "$T/image.yaml"
check images_download_from_serve_tree yq "$T/image.yaml" \
  'not pvcs and [(i["spec"]["sourceType"], i["spec"]["url"]) for i in images] == [("download", "http://10.0.0.5:8080/s3cr3t/Web%20Server%20%231.prod/disk-" + str(n) + ".img") for n in range(4)] and all(i["metadata"]["annotations"]["harvesterhci.io/storageClassName"] == "longhorn-fast" for i in images)'
check image_mode_claim_templates yq "$T/image.yaml" \
  '[(t["metadata"]["name"], t["metadata"]["annotations"]["harvesterhci.io/imageId"], t["spec"]["storageClassName"], t["spec"]["volumeMode"], t["spec"]["resources"]["requests"]["storage"]) for t in json.loads(ann["harvesterhci.io/volumeClaimTemplates"])] == [(v["persistentVolumeClaim"]["claimName"], "prod/" + i["metadata"]["name"], "longhorn-" + i["metadata"]["name"], "Block", s) for v, i, s in zip(vmspec["volumes"], images, ["3Mi", "6Mi", "9Mi", "20Mi"])]'
# The image URLs are where `vmimport serve` publishes the disks: each
# downloads as the source disk's bytes.
"$VMI" serve --listen 127.0.0.1:0 "$T/web.ova" >"$T/serve.url" 2>"$T/serve.err" &
SERVE_PID=$!
at_exit "kill $SERVE_PID"
for i in $(seq 1 100); do [ -s "$T/serve.url" ] && break; sleep 0.1; done
SURL=$(head -n 1 "$T/serve.url")
check manifest_image_mode_for_serve bash -c "'$VMI' manifest -f '$T/import.yaml' --mode image --image-url-base '$SURL' > '$T/served.yaml'"
"$PY" -c 'import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "VirtualMachineImage": print(d["spec"]["url"])' "$T/served.yaml" > "$T/urls"
check image_urls_download_the_disks bash -c "[ \$(wc -l < '$T/urls') -eq 4 ] && n=1 && while read -r u; do curl -sf \"\$u\" -o '$T/dl' && cmp '$T/dl' '$T/a/d'\$n.img || exit 1; n=\$((n+1)); done < '$T/urls'"
kill $SERVE_PID
check_fails image_mode_needs_url_base 'image-url-base' "$VMI" manifest -f "$T/import.yaml" --mode image

# ---- a BIOS OVA: no TPM, no secure boot, cores_per_socket unknown
make_ovf "$T/a/small.ovf" '{"name": "small", "cpus": 2, "memory": [1536, "byte * 2^20"], "firmware": "bios",
  "disks": [{"href": "d1.img", "capacity": [3, "byte * 2^20"], "format": "raw", "bus": "buslogic"}],
  "nics": [{"network": "VM Network", "model": "E1000", "mac": "00:50:56:01:02:03"}]}'
make_ova "$T/small.ova" "$T/a" ustar small.ovf d1.img
check manifest_bios bash -c "'$VMI' manifest '$T/small.ova' > '$T/small.yaml'"
check manifest_bios_validates validate "$T/small.yaml"
check bios_firmware_no_tpm_no_smm yq "$T/small.yaml" \
  'dom["firmware"]["bootloader"] == {"bios": {}} and "features" not in dom and "tpm" not in dom["devices"] and dom["cpu"] == {"sockets": 1, "cores": 2, "threads": 1} and dom["memory"]["guest"] == "1536Mi" and vm["metadata"]["name"] == "small"'
check buslogic_is_scsi_e1000_kept yq "$T/small.yaml" \
  'dom["devices"]["disks"][0]["disk"]["bus"] == "scsi" and ifaces[0]["model"] == "e1000" and ifaces[0]["macAddress"] == "00:50:56:01:02:03"'

# ---- a local image: no NICs, nothing known but the disk
cp "$T/a/d1.img" "$T/Web Server.img"
check manifest_local_image bash -c "'$VMI' manifest '$T/Web Server.img' --disk-bus sata --nic-model e1000e > '$T/local.yaml'"
check manifest_local_validates validate "$T/local.yaml"
check local_no_nic_gets_pod_masquerade yq "$T/local.yaml" \
  'ifaces == [{"name": "nic-0", "model": "e1000e", "masquerade": {}}] and vmspec["networks"] == [{"name": "nic-0", "pod": {}}]'
check local_unknown_bus_uses_default yq "$T/local.yaml" \
  'dom["devices"]["disks"][0]["disk"]["bus"] == "sata" and dom["firmware"]["bootloader"] == {"bios": {}} and vm["metadata"]["labels"]["migration.harvesterhci.io/source-kind"] == "local"'
check local_unknowns_are_said grep -q '^# memory: the source does not say; 2048 MiB assumed' "$T/local.yaml"

# ---- an NBD export
start_nbdkit exp file "$T/a/d2.img"
check manifest_nbd bash -c "'$VMI' manifest '$(unix_uri exp)' > '$T/nbd.yaml'"
check manifest_nbd_validates validate "$T/nbd.yaml"
check nbd_size yq "$T/nbd.yaml" 'pvcs[0]["spec"]["resources"]["requests"]["storage"] == "6Mi" and vm["metadata"]["labels"]["migration.harvesterhci.io/source-kind"] == "nbd"'

# ---- the validator is strict: a misspelled and a misplaced field fail
sed 's/evictionStrategy:/evictionStrategey:/' "$T/web.yaml" > "$T/typo.yaml"
check_fails misspelled_field_fails_validation "evictionStrategey' was unexpected" validate "$T/typo.yaml"
"$PY" - "$T/web.yaml" "$T/moved.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
vm = docs[-1]
iface = vm["spec"]["template"]["spec"]["domain"]["devices"]["interfaces"][0]
vm["spec"]["template"]["spec"]["networks"][0]["macAddress"] = iface.pop("macAddress")
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
PY
check_fails misplaced_field_fails_validation "networks.0: Additional properties.*macAddress" validate "$T/moved.yaml"
"$PY" - "$T/web.yaml" "$T/pvc-moved.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
docs[0]["metadata"]["storageClassName"] = docs[0]["spec"].pop("storageClassName")
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
PY
check_fails misplaced_pvc_field_fails_validation "metadata: Additional properties.*storageClassName" validate "$T/pvc-moved.yaml"
sed 's/sourceType: download/sourcetype: download/' "$T/image.yaml" > "$T/image-typo.yaml"
check_fails image_field_typo_fails_validation "sourcetype" validate "$T/image-typo.yaml"

# ---- preflight: refused before anything is written, naming the field
bad_import () {  # NAME REGEX SED-EXPRESSION
  sed "$3" "$T/import.yaml" > "$T/bad-$1.yaml"
  check_fails "preflight_$1" "$2" "$VMI" manifest -f "$T/bad-$1.yaml"
  "$VMI" manifest -f "$T/bad-$1.yaml" > "$T/bad-$1.out" 2>/dev/null
  check "preflight_$1_exits_1_writes_nothing" test $? -eq 1 -a ! -s "$T/bad-$1.out"
}
bad_import disk_bus 'spec.defaultDiskBusType: "ide" is not' 's/defaultDiskBusType: "scsi"/defaultDiskBusType: "ide"/'
bad_import nic_model 'spec.defaultNetworkInterfaceModel: "vmxnet3"' 's/defaultNetworkInterfaceModel: "rtl8139"/defaultNetworkInterfaceModel: "vmxnet3"/'
bad_import mapping_model 'spec.networkMapping\[1\].networkInterfaceModel: "e1001"' 's/networkInterfaceModel: "e1000"/networkInterfaceModel: "e1001"/'
bad_import duplicate_source 'spec.networkMapping\[1\].sourceNetwork: "dvSwitch 2" is mapped twice' 's/sourceNetwork: "Storage"/sourceNetwork: "dvSwitch 2"/'
bad_import destination 'spec.networkMapping\[0\].destinationNetwork: "vlan2" is not of the form namespace/name' 's|destinationNetwork: "prod/vlan2"|destinationNetwork: "vlan2"|'
bad_import vm_not_found 'spec.virtualMachineName: no VM named "Web Server #2"' 's/virtualMachineName: "Web Server #1.prod"/virtualMachineName: "Web Server #2"/'
bad_import unknown_field 'spec: unknown field "storageClas"' 's/storageClass:/storageClas:/'
bad_import cluster_kind 'spec.sourceCluster.kind: "VmwareSource", but .* holds a source of kind OvaSource' 's/    kind: OvaSource/    kind: VmwareSource/'
bad_import cluster_name 'spec.sourceCluster.name: "other-ova", but .* holds OvaSource "web-ova"' 's/    name: web-ova/    name: other-ova/'
bad_import second_pod_nic 'NIC 3 \(source network "Backup"\) has no entry' '/sourceNetwork: "Backup"/,+1d'
sed 's/defaultDiskBusType: "scsi"/defaultDiskBusType: "ide"/; /sourceNetwork: "Backup"/,+1d; s/  storageClass:/  skipPreflightChecks: true\n  storageClass:/' "$T/import.yaml" > "$T/skip.yaml"
check skip_preflight_checks_writes bash -c "'$VMI' manifest -f '$T/skip.yaml' > '$T/skip.out' && grep -q 'not attached: unmapped' '$T/skip.out'"

# ---- usage errors: exit status 2
usage_fails () { "$@"; [ $? -eq 2 ]; }
check usage_no_source usage_fails "$VMI" manifest
check usage_bad_mode usage_fails "$VMI" manifest --mode tarball "$T/small.ova"
check usage_bad_network_flag usage_fails "$VMI" manifest --network novalue "$T/small.ova"
check help_lists_manifest bash -c "'$VMI' --help | grep -q '^  manifest ' && '$VMI' manifest --help | grep -q -- '--image-url-base'"
# --mode image works out the VM's path in the tree (vmimport serve's URLs)
# without opening a disk: the manifest opens the source's files as often as
# --mode pvc does.  It built the whole tree before, which opened every
# disk of every VM again (strace: 6 opens of the images against 4).
mkdir -p "$T/two"
qemu-img create -q -f qcow2 "$T/two/a.qcow2" 8M
qemu-img create -q -f vmdk "$T/two/b.vmdk" 8M
image_opens () {  # MODE: the opens of the source's images
  strace -f -qq -e trace=openat -o "$T/strace.$1" "$VMI" manifest "$T/two" --vm a \
    --mode "$1" --image-url-base http://127.0.0.1:1/x > "$T/two.$1.yaml" || return 1
  grep -c "$T/two/." "$T/strace.$1"
}
same_opens_in_both_modes () {
  local pvc image
  pvc=$(image_opens pvc) && image=$(image_opens image) || return 1
  echo "opens of the images: pvc $pvc, image $image"
  [ "$pvc" -gt 0 ] && [ "$pvc" = "$image" ] && grep -q 'url: http://127.0.0.1:1/x/a/disk-0.img' "$T/two.image.yaml"
}
check manifest_image_mode_opens_no_disk_more_than_pvc_mode same_opens_in_both_modes
finish
