# Helpers for the OVA tests.  Source after lib.sh.
#
# make_ovf OUT.ovf JSON      an OVF descriptor from a JSON description:
#   {"name": "vm1", "cpus": 4, "cores": 2, "memory": [4, "byte * 2^30"],
#    "firmware": "efi", "secure_boot": true, "os": "ubuntu64Guest",
#    "ovf2": false, "tpm": true,
#    "disks": [{"href": "disk1.vmdk", "capacity": [10, "byte * 2^30"],
#               "format": "vmdk", "bus": "scsi", "gzip": false}],
#               (bus: scsi ide sata nvme virtio pvscsi buslogic)
#    "nics": [{"network": "VM Network", "model": "VmxNet3",
#              "mac": "00:50:56:aa:bb:cc"}]}
# make_mf DIR OUT.mf FILE...  a manifest (SHA256(file)= hex) of DIR/FILE...
# make_ova OUT.ova DIR FORMAT FILE...   tar of DIR/FILE... in that order
# json_get FILE PY_EXPR       evaluate PY_EXPR on the JSON in FILE (as j)

make_ovf () {
  python3 - "$1" "$2" <<'PY'
import json, sys
out, spec = sys.argv[1], json.loads(sys.argv[2])
ovf2 = spec.get("ovf2", False)
ns = ("http://schemas.dmtf.org/ovf/envelope/2" if ovf2
      else "http://schemas.dmtf.org/ovf/envelope/1")
L = []
a = L.append
a('<?xml version="1.0" encoding="UTF-8"?>')
a('<Envelope vmw:buildId="build-1" xmlns="%s" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" '
  'xmlns:ovf="%s" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" '
  'xmlns:sasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_StorageAllocationSettingData" '
  'xmlns:epasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_EthernetPortAllocationSettingData" '
  'xmlns:vmw="http://www.vmware.com/schema/ovf" '
  'xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" '
  'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' % (ns, ns))
a('  <References>')
for i, d in enumerate(spec.get("disks", [])):
    extra = ' ovf:compression="gzip"' if d.get("gzip") else ''
    a('    <File ovf:href="%s" ovf:id="file%d"%s/>' % (d["href"], i + 1, extra))
a('  </References>')
a('  <DiskSection>')
a('    <Info>Virtual disk information</Info>')
fmts = {"vmdk": "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized",
        "qcow2": "http://www.gnome.org/~markmc/qcow-image-format.html",
        "raw": "http://example.org/formats/raw"}
for i, d in enumerate(spec.get("disks", [])):
    cap, units = d["capacity"] if isinstance(d["capacity"], list) else (d["capacity"], None)
    u = ' ovf:capacityAllocationUnits="%s"' % units if units else ''
    a('    <Disk ovf:capacity="%d"%s ovf:diskId="vmdisk%d" ovf:fileRef="file%d" ovf:format="%s"/>'
      % (cap, u, i + 1, i + 1, fmts.get(d.get("format", "vmdk"), d.get("format"))))
a('  </DiskSection>')
a('  <NetworkSection>')
a('    <Info>The list of logical networks</Info>')
for n in sorted(set(n["network"] for n in spec.get("nics", []))):
    a('    <Network ovf:name="%s"><Description>%s</Description></Network>' % (n, n))
a('  </NetworkSection>')
a('  <VirtualSystem ovf:id="%s">' % spec["name"])
a('    <Info>A virtual machine</Info>')
a('    <Name>%s</Name>' % spec["name"])
if "os" in spec:
    a('    <OperatingSystemSection ovf:id="94" vmw:osType="%s"><Info>OS</Info><Description>Some OS</Description></OperatingSystemSection>' % spec["os"])
a('    <VirtualHardwareSection>')
a('      <Info>Virtual hardware requirements</Info>')
a('      <System><vssd:ElementName>Virtual Hardware Family</vssd:ElementName><vssd:InstanceID>0</vssd:InstanceID><vssd:VirtualSystemType>vmx-14</vssd:VirtualSystemType></System>')
iid = [0]
def item(tag, pfx, fields, extra=""):
    iid[0] += 1
    a('      <%s>' % tag)
    fields = dict(fields, InstanceID=str(iid[0]))
    for k in sorted(fields):
        a('        <%s:%s>%s</%s:%s>' % (pfx, k, fields[k], pfx, k))
    if extra:
        a(extra)
    a('      </%s>' % tag)
    return iid[0]
item("Item", "rasd", {"ResourceType": 3, "VirtualQuantity": spec["cpus"],
     "AllocationUnits": "hertz * 10^6", "ElementName": "%d virtual CPU(s)" % spec["cpus"]},
     '        <vmw:CoresPerSocket ovf:required="false">%d</vmw:CoresPerSocket>' % spec["cores"]
     if "cores" in spec else "")
mem, munits = spec["memory"]
item("Item", "rasd", {"ResourceType": 4, "VirtualQuantity": mem,
     "AllocationUnits": munits, "ElementName": "memory"})
ctl = {}
ctl_def = {"scsi": (6, "lsilogic"), "ide": (5, None), "sata": (20, "vmware.sata.ahci"),
           "nvme": (20, "vmware.nvme.controller"), "virtio": (20, "virtio"),
           "pvscsi": (6, "VirtualSCSI"), "buslogic": (6, "buslogic")}
for d in spec.get("disks", []):
    b = d.get("bus", "scsi")
    if b not in ctl:
        t, sub = ctl_def[b]
        f = {"ResourceType": t, "ElementName": "%s controller" % b, "Address": len(ctl)}
        if sub:
            f["ResourceSubType"] = sub
        ctl[b] = item("Item", "rasd", f)
for i, d in enumerate(spec.get("disks", [])):
    tag, pfx = ("StorageItem", "sasd") if ovf2 else ("Item", "rasd")
    item(tag, pfx, {"ResourceType": 17, "HostResource": "ovf:/disk/vmdisk%d" % (i + 1),
         "Parent": ctl[d.get("bus", "scsi")], "AddressOnParent": i,
         "ElementName": "Hard disk %d" % (i + 1)})
for i, n in enumerate(spec.get("nics", [])):
    tag, pfx = ("EthernetPortItem", "epasd") if ovf2 else ("Item", "rasd")
    f = {"ResourceType": 10, "Connection": n["network"], "ResourceSubType": n["model"],
         "ElementName": "Network adapter %d" % (i + 1), "AutomaticAllocation": "true"}
    if n.get("mac"):
        f["Address"] = n["mac"]
    item(tag, pfx, f)
if spec.get("tpm"):
    item("Item", "rasd", {"ResourceType": 1, "ResourceSubType": "vmware.vtpm",
         "ElementName": "Virtual TPM"})
if "firmware" in spec:
    a('      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="%s"/>' % spec["firmware"])
if "secure_boot" in spec:
    a('      <vmw:Config ovf:required="false" vmw:key="uefi.secureBoot.enabled" vmw:value="%s"/>'
      % ("true" if spec["secure_boot"] else "false"))
a('    </VirtualHardwareSection>')
a('  </VirtualSystem>')
a('</Envelope>')
open(out, "w").write("\n".join(L) + "\n")
PY
}

make_mf () {
  local dir=$1 out=$2 f; shift 2
  : > "$out"
  for f in "$@"; do
    printf 'SHA256(%s)= %s\n' "$f" "$(sha256sum < "$dir/$f" | cut -d' ' -f1)" >> "$out"
  done
}

make_ova () {
  local out=$1 dir=$2 fmt=$3; shift 3
  tar -C "$dir" --format="$fmt" -cf "$out" "$@"
}

json_get () {
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# check_vmjson NAME FILE PY_BOOL_EXPR: the expression on j (vm.json) holds.
check_vmjson () {
  check "$1" python3 -c 'import json,sys
j=json.load(open(sys.argv[1]))
ok=eval(sys.argv[2])
if not ok: print(json.dumps(j, indent=1)); sys.exit(1)' "$2" "$3"
}
