#!/usr/bin/env bash
# The main job on a generated sample: install what is needed, build, make a
# small VM (an ext4 disk as a streamOptimized VMDK inside an OVA, and the same
# disk as a compressed QCOW2), serve the OVA with nginx on 127.0.0.1, mount it
# with vmimportfs, show vm.json, copy the disks out sparsely with vmimport
# and with cp, import the VM (volume + Harvester/KubeVirt objects) with
# vmimport import, and check every byte against qemu-img's own conversion.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (apt-get, FUSE)" >&2; exit 1; }
bash scripts/deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build >/dev/null

S=$PWD/build/sample
for m in "$S/mnt" "$S/mnt2"; do fusermount3 -u "$m" 2>/dev/null || true; done
rm -rf "$S"; mkdir -p "$S/files/etc" "$S/www" "$S/mnt" "$S/mnt2" "$S/ova" "$S/nginx"
echo "demo-vm" > "$S/files/etc/hostname"
seq 1 100000 > "$S/files/numbers.txt"
head -c 2000000 /dev/urandom > "$S/files/random.bin"
qemu-img create -q -f raw "$S/disk.raw" 256M
mkfs.ext4 -q -F -L demo -d "$S/files" "$S/disk.raw"
qemu-img convert -O vmdk -o subformat=streamOptimized "$S/disk.raw" "$S/ova/demo-disk1.vmdk"
qemu-img convert -O qcow2 -c "$S/disk.raw" "$S/demo-qcow2.qcow2"
cat > "$S/ova/demo.ovf" <<OVF
<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
 xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
 xmlns:vmw="http://www.vmware.com/schema/ovf">
  <References><File ovf:href="demo-disk1.vmdk" ovf:id="file1"/></References>
  <DiskSection><Info>disks</Info>
    <Disk ovf:capacity="256" ovf:capacityAllocationUnits="byte * 2^20" ovf:diskId="vmdisk1" ovf:fileRef="file1"
      ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/></DiskSection>
  <NetworkSection><Info>nets</Info><Network ovf:name="VM Network"/></NetworkSection>
  <VirtualSystem ovf:id="demo-vm"><Info>a demo VM</Info><Name>demo-vm</Name>
    <OperatingSystemSection ovf:id="101" vmw:osType="debian12_64Guest"><Info>os</Info></OperatingSystemSection>
    <VirtualHardwareSection><Info>hw</Info>
      <Item><rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits><rasd:ElementName>2 CPUs</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:ElementName>1 GiB</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>1024</rasd:VirtualQuantity></Item>
      <Item><rasd:Address>0</rasd:Address><rasd:ElementName>SCSI0</rasd:ElementName><rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>lsilogic</rasd:ResourceSubType><rasd:ResourceType>6</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:ElementName>disk0</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>4</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>7</rasd:AddressOnParent><rasd:Connection>VM Network</rasd:Connection>
        <rasd:ElementName>eth0</rasd:ElementName><rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
OVF
(cd "$S/ova" && for f in demo.ovf demo-disk1.vmdk; do echo "SHA256($f)= $(sha256sum "$f" | cut -d' ' -f1)"; done > demo.mf)
tar --format=ustar -cf "$S/www/demo.ova" -C "$S/ova" demo.ovf demo.mf demo-disk1.vmdk
qemu-img convert -O raw "$S/ova/demo-disk1.vmdk" "$S/reference.img"

# nginx on 127.0.0.1, a free port, config written here.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$S/nginx/nginx.conf" <<NGX
worker_processes 1; daemon on; user root; pid $S/nginx/nginx.pid; error_log $S/nginx/error.log;
events { worker_connections 64; }
http { access_log $S/nginx/access.log; client_body_temp_path $S/nginx; proxy_temp_path $S/nginx;
  fastcgi_temp_path $S/nginx; uwsgi_temp_path $S/nginx; scgi_temp_path $S/nginx;
  server { listen 127.0.0.1:$port; root $S/www; } }
NGX
nginx -c "$S/nginx/nginx.conf" -p "$S/nginx"
cleanup () {
  fusermount3 -u "$S/mnt" 2>/dev/null || true
  fusermount3 -u "$S/mnt2" 2>/dev/null || true
  [ -f "$S/nginx/nginx.pid" ] && kill "$(cat "$S/nginx/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT
URL=http://127.0.0.1:$port/demo.ova

echo "== vmimport ls $URL"
build/tools/vmimport ls "$URL" || true
echo "== vmimport verify $URL"
build/tools/vmimport verify "$URL" || true
echo "== vmimportfs $URL $S/mnt"
build/fs/vmimportfs "$URL" "$S/mnt"
ls -ls "$S/mnt"/*
echo "== $S/mnt/demo-vm/vm.json"
cat "$S/mnt/demo-vm/vm.json"
echo "== cp --sparse=always $S/mnt/demo-vm/disk-0.img $S/from-mount.img"
cp --sparse=always "$S/mnt/demo-vm/disk-0.img" "$S/from-mount.img"
cmp "$S/from-mount.img" "$S/reference.img"
echo "   identical to qemu-img convert -O raw ($(du -k "$S/from-mount.img" | cut -f1) KiB allocated of $(stat -c %s "$S/from-mount.img") bytes)"
fusermount3 -u "$S/mnt"
echo "== vmimport copy $URL --vm demo-vm --disk 0 $S/copied.img"
if build/tools/vmimport copy --quiet "$URL" --vm demo-vm --disk 0 "$S/copied.img"; then
  cmp "$S/copied.img" "$S/reference.img" && echo "   identical to qemu-img convert -O raw"
fi
echo "== vmimport import -f import.yaml: the whole import into Harvester (a file stands in for the PVC)"
cat > "$S/import.yaml" <<YAML
apiVersion: migration.harvesterhci.io/v1beta1
kind: VirtualMachineImport
metadata: {name: demo, namespace: default}
spec:
  virtualMachineName: demo-vm
  networkMapping:
  - {sourceNetwork: "VM Network", destinationNetwork: "default/vlan1"}
---
apiVersion: migration.harvesterhci.io/v1beta1
kind: OvaSource
metadata: {name: demo}
spec: {url: "$URL"}
YAML
rm -f "$S/pvc-disk-0.img"
build/tools/vmimport import -f "$S/import.yaml" --target "disk-0=$S/pvc-disk-0.img" --out "$S" \
  | grep -v '"progress"'
cmp "$S/pvc-disk-0.img" "$S/reference.img" && echo "   the volume is identical to qemu-img convert -O raw"
echo "== $S/demo.yaml: the objects for kubectl apply -f"
cat "$S/demo.yaml"
echo "== vmimportfs $S/demo-qcow2.qcow2 (local, compressed QCOW2)"
build/fs/vmimportfs "$S/demo-qcow2.qcow2" "$S/mnt2"
cmp "$S/mnt2/demo-qcow2/disk-0.img" "$S/reference.img" && echo "   identical to qemu-img convert -O raw"
fusermount3 -u "$S/mnt2"
echo "== done: unmounted, nginx stopped"
