# VMware part: `vmimport manifest` of vCenter VMs validates against the
# schemas and follows the source: folders tell two "app" VMs apart, PVSCSI,
# LSI Logic (SAS), BusLogic → scsi, AHCI → sata, IDE → sata, NVMe → the
# default bus; vmxnet*/e1000/e1000e/pcnet32 models, MACs, firmware.
# Sourced by tests/vmware.sh.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3   # Debian's python3-jsonschema
vmw_manifest () {  # OUT ARGS...
  local out=$1; shift
  "$VMI" manifest "${VC_OPTS[@]}" "$VC_SRC" "$@" > "$T/$out.yaml"
}
vmw_validate () { "$PY" "$S/tests/k8s-validate.py" "$S/tests/schemas" "$@"; }
vmw_yq () {  # FILE PY_BOOL_EXPR (dom, ifaces, vm, pvcs as in manifest.sh)
  "$PY" - "$1" "$2" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
vm = [d for d in docs if d["kind"] == "VirtualMachine"][0]
dom = vm["spec"]["template"]["spec"]["domain"]
ifaces = dom["devices"].get("interfaces", [])
buses = [d["disk"]["bus"] for d in dom["devices"]["disks"]]
pvcs = [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
if not eval(sys.argv[2]):
    print(open(sys.argv[1]).read()); sys.exit(1)
PY
}
check_fails "manifest: two VMs named app need a folder" 'VMs are named "app"' \
  vmw_manifest ambiguous --vm app
check "manifest of prod/web/app" vmw_manifest web --vm app --folder prod/web \
  --network DC0_DVPG0=prod/dvpg0
check "manifest of test/app" vmw_manifest test --vm app --folder /test/ \
  --network 'VM Network=prod/vmnet'
check "manifest of prod/db (NVMe, two NICs)" vmw_manifest db --vm db \
  --network 'VM Network=prod/vmnet' --disk-bus sata
check "manifest of big (20 GiB, no NICs)" vmw_manifest big --vm big
check "VMware manifests validate strictly" vmw_validate "$T/web.yaml" "$T/test.yaml" "$T/db.yaml" "$T/big.yaml"
check "VMware web: efi+secure boot, 2x2 CPUs, 2048Mi, pvscsi/sata, vmxnet3/e1000 + MACs" vmw_yq "$T/web.yaml" \
  'dom["firmware"]["bootloader"] == {"efi": {"secureBoot": True}} and dom["cpu"] == {"sockets": 2, "cores": 2, "threads": 1} and dom["memory"]["guest"] == "2048Mi" and buses == ["scsi", "sata"] and [(i["model"], i.get("macAddress"), "masquerade" in i) for i in ifaces] == [("virtio", "00:50:56:01:02:03", True), ("e1000", "00:50:56:01:02:04", False)] and vm["metadata"]["labels"]["migration.harvesterhci.io/source-kind"] == "vmware" and vm["metadata"]["annotations"]["migration.harvesterhci.io/source-name"] == "app"'
check "VMware test/app: ide/buslogic/lsilogic-sas buses, pcnet32, secure boot off" vmw_yq "$T/test.yaml" \
  'buses == ["sata", "scsi", "scsi"] and [i["model"] for i in ifaces] == ["pcnet"] and dom["firmware"]["bootloader"] == {"efi": {"secureBoot": False}} and "features" not in dom'
check "VMware db: lsilogic, NVMe -> defaultDiskBusType; e1000e on the pod network, vmxnet2 mapped" vmw_yq "$T/db.yaml" \
  'buses == ["scsi", "sata"] and [(i["model"], "bridge" in i) for i in ifaces] == [("e1000e", False), ("virtio", True)] and dom["firmware"]["bootloader"] == {"bios": {}}'
check "VMware db: the NVMe bus is explained" grep -q '^# disk-1: bus sata: .*NVMe' "$T/db.yaml"
check "VMware big: 20Gi PVC, one pod NIC" vmw_yq "$T/big.yaml" \
  'pvcs[0]["spec"]["resources"]["requests"]["storage"] == "20480Mi" and ifaces == [{"name": "nic-0", "model": "virtio", "masquerade": {}}]'
