#!/usr/bin/env bash
# Generate the seed corpora of the fuzz targets into OUTDIR/TARGET/, from
# images qemu-img makes and archives tar makes (nothing binary is kept in
# git).  Small on purpose: a seed is mutated millions of times.
#   tests/fuzz/make-seeds.sh OUTDIR
set -eu
out=${1:?usage: make-seeds.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmi-seeds.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
here=$(cd "$(dirname "$0")" && pwd)
cd "$tmp"
mkdir -p "$out"/{vmdk,sesparse,qcow2,tar,ovf,manifest,yaml,vmware,cert,import,openstack}

# A 1 MiB raw disk: a text run over the first 5 grains (so that compressed
# images have runs of adjacent grains and clusters, read and inflated as a
# batch), a random run, zeros, a pattern near the end.
qemu-img create -q -f raw base.raw 1M
seq 1 50000 | dd of=base.raw conv=notrunc status=none
head -c 8000 /dev/urandom | dd of=base.raw bs=1 seek=300000 conv=notrunc status=none
printf 'END-OF-DISK' | dd of=base.raw bs=1 seek=$((1024*1024-4096)) conv=notrunc status=none
qemu-img create -q -f raw small.raw 64K
printf 'tiny' | dd of=small.raw conv=notrunc status=none

# VMDK: every subformat qemu-img writes.  Descriptor-only seeds name their
# extents; the fuzz opener hands the same bytes back for them.
v=0
for o in subformat=monolithicSparse subformat=streamOptimized \
         subformat=monolithicSparse,compat6=on subformat=monolithicSparse,adapter_type=lsilogic \
         subformat=monolithicFlat subformat=twoGbMaxExtentSparse \
         subformat=twoGbMaxExtentFlat subformat=streamOptimized,hwversion=6; do
  v=$((v+1)); rm -f d*.vmdk
  qemu-img convert -q -f raw -O vmdk -o "$o" base.raw d.vmdk
  cp d.vmdk "$out/vmdk/$v-$(echo "$o" | tr ',=' '__').vmdk"
done
qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized small.raw "$out/vmdk/small-stream.vmdk"
qemu-img convert -q -f raw -O vmdk small.raw "$out/vmdk/small-sparse.vmdk"
# A delta disk (snapshot) whose parent is itself one folder down (the fuzz
# opener hands the same bytes back): parentCID = its own CID, so that the
# parent passes the CID check and the chain is opened 32 levels deep until
# the depth limit stops it.
qemu-img create -q -f vmdk pbase.vmdk 1M
qemu-img create -q -f vmdk -b pbase.vmdk -F vmdk delta.vmdk
qemu-io -f vmdk -c 'write -P 0x42 64k 64k' delta.vmdk >/dev/null
python3 - delta.vmdk "$out/vmdk/delta-of-itself.vmdk" <<'PY'
import re, sys
b = open(sys.argv[1], "rb").read()
cid = re.search(rb"\nCID=([0-9a-f]+)", b).group(1)
b = re.sub(rb"parentCID=[0-9a-f]+", b"parentCID=" + cid, b, count=1)
b = b.replace(b'parentFileNameHint="pbase.vmdk"', b'parentFileNameHint="s/pb.vmdk"\n')
open(sys.argv[2], "wb").write(b)
PY
# A descriptor by hand: a sparse extent and a zero extent.
cat > "$out/vmdk/descriptor.vmdk" <<'EOF'
# Disk DescriptorFile
version=1
CID=fffffffe
parentCID=ffffffff
createType="monolithicSparse"

# Extent description
RW 4096 SPARSE "self.vmdk"
RW 2048 ZERO
RW 128 FLAT "flat.bin" 0

# The Disk Data Base
#DDB
ddb.virtualHWVersion = "4"
ddb.geometry.cylinders = "6"
ddb.geometry.heads = "16"
ddb.geometry.sectors = "63"
ddb.adapterType = "ide"
EOF

# seSparse extents (tests/sesparse-gen.py): 256 KiB disks with allocated,
# zero, unmapped and unallocated grains; one of a partial last grain, one
# of two grain tables (16 MiB + 4 KiB, one grain in each).
gen="python3 $here/../sesparse-gen.py --compact"
mkdir -p se
$gen se a 512 p.vmdk 00000001 00000002 data:0:5 zero:10:3 unmap:20:2 data:63:1 >/dev/null
$gen se b 509 p.vmdk 00000001 00000002 data:1:1 data:40:20 zero:62:1 >/dev/null
$gen se c 512 p.vmdk 00000001 00000002 >/dev/null
$gen se d $((32768 + 8)) p.vmdk 00000001 00000002 data:4095:2 >/dev/null
for x in a b c d; do cp "se/$x-sesparse.vmdk" "$out/sesparse/$x.vmdk"; done

# QCOW2: versions, cluster sizes, compression, extended L2, backing and
# external data files, refcount widths.
q=0
for o in compat=0.10 compat=1.1 cluster_size=512 cluster_size=4096 \
         lazy_refcounts=on refcount_bits=1 refcount_bits=64 \
         extended_l2=on,cluster_size=32K compression_type=zstd; do
  q=$((q+1))
  qemu-img convert -q -f raw -O qcow2 -o "$o" base.raw "$out/qcow2/$q-$(echo "$o" | tr ',=' '__').qcow2" 2>/dev/null || true
done
qemu-img convert -q -c -f raw -O qcow2 base.raw "$out/qcow2/compressed-zlib.qcow2"
qemu-img convert -q -c -f raw -O qcow2 -o compression_type=zstd base.raw "$out/qcow2/compressed-zstd.qcow2" 2>/dev/null || true
qemu-img convert -q -c -f raw -O qcow2 -o cluster_size=4096 small.raw "$out/qcow2/small-compressed.qcow2"
qemu-img create -q -f qcow2 -b base.raw -F raw over.qcow2
qemu-io -c 'write -P 0x5a 64k 8k' over.qcow2 >/dev/null 2>&1 || true
cp over.qcow2 "$out/qcow2/backing-raw.qcow2"
qemu-img create -q -f qcow2 -o data_file=data.raw,data_file_raw=on ext.qcow2 1M
cp ext.qcow2 "$out/qcow2/external-data-file.qcow2"
qemu-img create -q -f qcow2 empty.qcow2 1G
cp empty.qcow2 "$out/qcow2/empty-1G.qcow2"

# OVF documents: VMware's shape, a minimal one, and an entity bomb (must
# not be expanded).
cat > vm.ovf <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Envelope vmw:buildId="build-123" xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
    <File ovf:href="disk1.vmdk" ovf:id="file1" ovf:size="68608"/>
    <File ovf:href="sub/disk2.qcow2" ovf:id="file2" ovf:size="196616"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="2" ovf:capacityAllocationUnits="byte * 2^20" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized" ovf:populatedSize="1048576"/>
    <Disk ovf:capacity="1048576" ovf:diskId="vmdisk2" ovf:fileRef="file2" ovf:format="http://www.gnome.org/~markmc/qcow-image-format.html"/>
  </DiskSection>
  <NetworkSection>
    <Info>The list of logical networks</Info>
    <Network ovf:name="VM Network"><Description>The VM Network network</Description></Network>
  </NetworkSection>
  <VirtualSystem ovf:id="web-01">
    <Info>A virtual machine</Info>
    <Name>web-01</Name>
    <OperatingSystemSection ovf:id="101" vmw:osType="ubuntu64Guest"><Info>The kind of installed guest operating system</Info></OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System><vssd:ElementName>Virtual Hardware Family</vssd:ElementName><vssd:InstanceID>0</vssd:InstanceID><vssd:VirtualSystemIdentifier>web-01</vssd:VirtualSystemIdentifier><vssd:VirtualSystemType>vmx-19</vssd:VirtualSystemType></System>
      <Item><rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits><rasd:ElementName>2 virtual CPU(s)</rasd:ElementName><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity><vmw:CoresPerSocket ovf:required="false">2</vmw:CoresPerSocket></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:ElementName>4096MB of memory</rasd:ElementName><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>4096</rasd:VirtualQuantity></Item>
      <Item><rasd:Address>0</rasd:Address><rasd:ElementName>SCSI controller 0</rasd:ElementName><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceSubType>VirtualSCSI</rasd:ResourceSubType><rasd:ResourceType>6</rasd:ResourceType></Item>
      <Item><rasd:Address>0</rasd:Address><rasd:ElementName>SATA controller 0</rasd:ElementName><rasd:InstanceID>4</rasd:InstanceID><rasd:ResourceSubType>vmware.sata.ahci</rasd:ResourceSubType><rasd:ResourceType>20</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:ElementName>Hard disk 1</rasd:ElementName><rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>5</rasd:InstanceID><rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>1</rasd:AddressOnParent><rasd:ElementName>Hard disk 2</rasd:ElementName><rasd:HostResource>ovf:/disk/vmdisk2</rasd:HostResource><rasd:InstanceID>6</rasd:InstanceID><rasd:Parent>4</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>7</rasd:AddressOnParent><rasd:AutomaticAllocation>true</rasd:AutomaticAllocation><rasd:Connection>VM Network</rasd:Connection><rasd:ElementName>Network adapter 1</rasd:ElementName><rasd:InstanceID>7</rasd:InstanceID><rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType><rasd:Address>00:50:56:aa:bb:cc</rasd:Address></Item>
      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="efi"/>
      <vmw:Config ovf:required="false" vmw:key="bootOptions.efiSecureBootEnabled" vmw:value="true"/>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
EOF
cp vm.ovf "$out/ovf/vmware.ovf"
cat > "$out/ovf/minimal.ovf" <<'EOF'
<?xml version="1.0"?>
<ovf:Envelope xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/2" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
 <ovf:References><ovf:File ovf:href="d.vmdk" ovf:id="f"/></ovf:References>
 <ovf:DiskSection><ovf:Disk ovf:diskId="d" ovf:fileRef="f" ovf:capacity="1073741824"/></ovf:DiskSection>
 <ovf:VirtualSystem ovf:id="vbox">
  <ovf:VirtualHardwareSection>
   <ovf:Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></ovf:Item>
   <ovf:Item><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits><rasd:VirtualQuantity>512</rasd:VirtualQuantity></ovf:Item>
   <ovf:Item><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>5</rasd:ResourceType></ovf:Item>
   <ovf:Item><rasd:InstanceID>4</rasd:InstanceID><rasd:ResourceType>17</rasd:ResourceType><rasd:Parent>3</rasd:Parent><rasd:HostResource>/disk/d</rasd:HostResource></ovf:Item>
  </ovf:VirtualHardwareSection>
 </ovf:VirtualSystem>
</ovf:Envelope>
EOF
cat > "$out/ovf/entities.ovf" <<'EOF'
<?xml version="1.0"?>
<!DOCTYPE Envelope [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY ext SYSTEM "file:///etc/passwd">
]>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
 <References><File ovf:href="&ext;" ovf:id="f"/></References>
 <VirtualSystem ovf:id="&c;"><Name>&c;</Name></VirtualSystem>
</Envelope>
EOF

# A vApp (VirtualSystemCollection, nested) and VirtualBox's vbox:Machine.
cat > "$out/ovf/vapp-vbox.ovf" <<'EOF'
<?xml version="1.0"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/2" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/2" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vbox="http://www.virtualbox.org/ovf/machine">
 <References><File ovf:href="a.vmdk" ovf:id="f1" ovf:chunkSize="1048576" ovf:size="3000000"/><File ovf:href="b.img" ovf:id="f2"/></References>
 <DiskSection><Disk ovf:diskId="d1" ovf:fileRef="f1" ovf:capacity="1" ovf:capacityAllocationUnits="byte * 2^30"/><Disk ovf:diskId="d2" ovf:fileRef="f2" ovf:capacity="1048576" ovf:format="urn:unknown"/></DiskSection>
 <VirtualSystemCollection ovf:id="vapp"><Name>vapp</Name>
  <VirtualSystem ovf:id="a"><Name>a</Name><VirtualHardwareSection>
   <Item><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>20</rasd:ResourceType><rasd:ResourceSubType>AHCI</rasd:ResourceSubType></Item>
   <Item><rasd:InstanceID>4</rasd:InstanceID><rasd:ResourceType>17</rasd:ResourceType><rasd:Parent>3</rasd:Parent><rasd:HostResource>/disk/d1</rasd:HostResource></Item>
   <Item><rasd:InstanceID>5</rasd:InstanceID><rasd:ResourceType>10</rasd:ResourceType><rasd:Connection>NAT</rasd:Connection></Item>
  </VirtualHardwareSection>
  <vbox:Machine><Hardware><Firmware type="EFI64"/><Network><Adapter slot="0" enabled="true" MACAddress="0800271A2B3C"/></Network></Hardware></vbox:Machine></VirtualSystem>
  <VirtualSystemCollection ovf:id="inner"><VirtualSystem ovf:id="b"><VirtualHardwareSection>
   <Item><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>6</rasd:ResourceType><rasd:ResourceSubType>VirtioSCSI</rasd:ResourceSubType></Item>
   <Item><rasd:InstanceID>4</rasd:InstanceID><rasd:ResourceType>17</rasd:ResourceType><rasd:Parent>3</rasd:Parent><rasd:HostResource>ovf:/disk/d2</rasd:HostResource></Item>
  </VirtualHardwareSection></VirtualSystem></VirtualSystemCollection>
 </VirtualSystemCollection>
</Envelope>
EOF

# Signing certificates as ovftool writes them: the manifest's signature,
# then the PEM certificate (twice: a chain).
openssl req -x509 -newkey rsa:1024 -nodes -days 1 -subj "/CN=fuzz signer" \
  -keyout sign.key -out sign.crt 2>/dev/null
{ printf 'SHA256(vm.mf)= '
  printf 'x' | openssl dgst -sha256 -sign sign.key | od -An -v -tx1 | tr -d ' \n'
  printf '\n'
  cat sign.crt sign.crt; } > "$out/cert/signed.cert"

# Manifests: the three digests, CRLF endings, a name with spaces.
qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized small.raw disk1.vmdk
mkdir -p sub
qemu-img convert -q -f raw -O qcow2 small.raw sub/disk2.qcow2
mf () {  # mf ALGO TOOL FILE...
  local a=$1 tool=$2 f; shift 2
  for f; do printf '%s(%s)= %s\n' "$a" "$f" "$($tool "$f" | cut -d' ' -f1)"; done
}
mf SHA256 sha256sum vm.ovf disk1.vmdk sub/disk2.qcow2 > vm.mf
cp vm.mf "$out/manifest/sha256.mf"
mf SHA1 sha1sum vm.ovf disk1.vmdk > "$out/manifest/sha1.mf"
mf SHA512 sha512sum vm.ovf | sed 's/$/\r/' > "$out/manifest/sha512-crlf.mf"
cp vm.ovf "disk with spaces.vmdk"
mf SHA256 sha256sum "disk with spaces.vmdk" > "$out/manifest/spaces.mf"

# Tar archives as OVAs are: the OVF first, then manifest and disks, in
# each header format; one with a name too long for ustar, one sparse.
long=a-very-long-directory-name-to-need-a-gnu-or-pax-header/and-a-long-file-name-as-well-past-one-hundred-bytes-disk3.vmdk
mkdir -p "$(dirname "$long")"
cp disk1.vmdk "$long"
for fmt in ustar gnu pax v7; do
  tar --format=$fmt -cf "$out/tar/$fmt.ova" vm.ovf vm.mf disk1.vmdk sub/disk2.qcow2 2>/dev/null || true
done
tar --format=gnu -cf "$out/tar/gnu-longname.ova" vm.ovf "$long"
tar --format=pax -cf "$out/tar/pax-longname.ova" vm.ovf "$long"
truncate -s 1M sparse.img
printf 'x' | dd of=sparse.img bs=1 seek=500000 conv=notrunc status=none
cp sparse.img disk1.vmdk
tar --format=gnu -S -cf "$out/tar/gnu-sparse.ova" vm.ovf disk1.vmdk

# Harvester source YAML: each kind with its Secret, and an alias bomb.
cat > "$out/yaml/ova.yaml" <<'EOF'
apiVersion: migration.harvesterhci.io/v1beta1
kind: OvaSource
metadata:
  name: ova-web
  namespace: default
spec:
  url: https://example.com/appliances/web-01.ova
  httpTimeoutSeconds: 600
  credentials:
    name: ova-credentials
    namespace: default
---
apiVersion: v1
kind: Secret
metadata:
  name: ova-credentials
  namespace: default
stringData:
  username: admin
  password: "p@ss: word"
  ca.crt: |
    -----BEGIN CERTIFICATE-----
    MIIBszCCAVmgAwIBAgIUZm9vYmFyAAAAAAAAAAAAAAAAAAAwCgYIKoZIzj0EAwIw
    -----END CERTIFICATE-----
EOF
cat > "$out/yaml/vmware.yaml" <<'EOF'
apiVersion: migration.harvesterhci.io/v1beta1
kind: VmwareSource
metadata: {name: vcsim, namespace: default}
spec:
  endpoint: "https://vscim/sdk"
  dc: "DCO"
  credentials: {name: vsphere-credentials, namespace: default}
---
apiVersion: v1
kind: Secret
metadata: {name: vsphere-credentials, namespace: default}
data:
  username: YWRtaW5pc3RyYXRvckB2c3BoZXJlLmxvY2Fs
  password: c2VjcmV0
EOF
cat > "$out/yaml/openstack.yaml" <<'EOF'
apiVersion: migration.harvesterhci.io/v1beta1
kind: OpenstackSource
metadata:
  name: devstack
  namespace: default
spec:
  endpoint: "https://devstack/identity"
  region: "RegionOne"
  credentials:
    name: devstack-credentials
    namespace: default
---
apiVersion: v1
kind: Secret
metadata:
  name: devstack-credentials
  namespace: default
stringData:
  "username": "user"
  "password": "pass"
  "project_name": "admin"
  "domain_name": "default"
  "ca_cert": "pem-encoded-ca-cert"
EOF
cat > "$out/yaml/aliases.yaml" <<'EOF'
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
kind: OvaSource
metadata: {name: *c}
spec: {url: *c}
EOF
# What Nova's servers/detail and Cinder's volumes/detail answer (shapes of
# Zed's answers, microversion 2.79): boot from volume, from an image.
cat > "$out/openstack/servers.json" <<'EOF'
[{"servers": [
  {"id": "s1", "name": "vm-vol", "status": "ACTIVE",
   "flavor": {"vcpus": 2, "ram": 1536, "disk": 0, "original_name": "f"},
   "image": "",
   "addresses": {"net1": [{"addr": "10.0.0.5", "version": 4,
     "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"},
     {"addr": "fd00::5", "version": 6,
      "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"}]},
   "os-extended-volumes:volumes_attached": [{"id": "v2"}, {"id": "v1"}]},
  {"id": "s2", "name": "vm-img", "status": "SHUTOFF",
   "flavor": {"vcpus": 3, "ram": 2048, "disk": 1},
   "image": {"id": "i1"}, "addresses": {},
   "os-extended-volumes:volumes_attached": []}]},
 {"volumes": [
  {"id": "v1", "name": "boot", "size": 1, "bootable": "true",
   "attachments": [{"server_id": "s1", "device": "/dev/vda"}],
   "volume_image_metadata": {"hw_firmware_type": "uefi",
     "os_secure_boot": "required", "hw_tpm_model": "tpm-crb",
     "hw_disk_bus": "scsi", "hw_vif_model": "virtio"}},
  {"id": "v2", "name": "data", "size": 4,
   "attachments": [{"server_id": "s1", "device": "/dev/vdb"}]}]}]
EOF
# The same with Keystone's token answer (its catalog: Nova, Cinder v3 and
# Glance in two regions) as the third element.
{ head -c -2 "$out/openstack/servers.json"
  cat <<'EOF2'
,
 {"token": {"expires_at": "2026-12-02T18:43:45.000000Z",
  "project": {"id": "p1", "name": "admin"},
  "catalog": [
   {"type": "compute", "name": "nova", "endpoints": [
     {"interface": "public", "region_id": "RegionOne", "region": "RegionOne",
      "url": "https://cloud/compute/v2.1/"},
     {"interface": "internal", "region_id": "RegionOne", "url": "http://10.0.0.1:8774/v2.1"},
     {"interface": "public", "region_id": "RegionTwo", "url": "https://two/compute/v2.1"}]},
   {"type": "volumev3", "name": "cinderv3", "endpoints": [
     {"interface": "public", "region_id": "RegionOne", "url": "https://cloud/volume/v3/p1"}]},
   {"type": "block-storage", "name": "cinder", "endpoints": [
     {"interface": "public", "region": "RegionTwo", "url": "https://two/volume/v3/p1"}]},
   {"type": "image", "name": "glance", "endpoints": [
     {"interface": "public", "region_id": "RegionOne", "url": "https://cloud/image//"},
     {"interface": "public", "region_id": "RegionTwo", "url": "https://two/image/v2"}]}]}}]
EOF2
} > "$out/openstack/with-catalog.json"
# vSphere: a RetrievePropertiesEx answer (a VM in a folder, its disks on
# two controllers, NICs on a standard and a distributed port group, the
# port group, a folder) as vCenter and govmomi's simulator write it, and
# a fault.
cat > "$out/vmware/inventory.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><token>t1</token>
<objects><obj type="Folder">group-v3</obj><propSet><name>name</name><val xsi:type="xsd:string">vm</val></propSet></objects>
<objects><obj type="Folder">folder-9</obj><propSet><name>name</name><val xsi:type="xsd:string">prod</val></propSet><propSet><name>parent</name><val xsi:type="ManagedObjectReference" type="Folder">group-v3</val></propSet></objects>
<objects><obj type="Datastore">datastore-11</obj><propSet><name>name</name><val xsi:type="xsd:string">ds1</val></propSet><propSet><name>summary.url</name><val xsi:type="xsd:string">ds:///vmfs/volumes/5f3c2a1e-0b1c2d3e-4f50-0123456789ab/</val></propSet></objects>
<objects><obj type="DistributedVirtualPortgroup">dvportgroup-13</obj><propSet><name>key</name><val xsi:type="xsd:string">dvportgroup-13</val></propSet><propSet><name>name</name><val xsi:type="xsd:string">DPG</val></propSet></objects>
<objects><obj type="VirtualMachine">vm-29</obj>
<propSet><name>name</name><val xsi:type="xsd:string">web</val></propSet>
<propSet><name>parent</name><val xsi:type="ManagedObjectReference" type="Folder">folder-9</val></propSet>
<propSet><name>config.hardware.numCPU</name><val xsi:type="xsd:int">2</val></propSet>
<propSet><name>config.hardware.numCoresPerSocket</name><val xsi:type="xsd:int">1</val></propSet>
<propSet><name>config.hardware.memoryMB</name><val xsi:type="xsd:int">512</val></propSet>
<propSet><name>config.firmware</name><val xsi:type="xsd:string">efi</val></propSet>
<propSet><name>config.bootOptions.efiSecureBootEnabled</name><val xsi:type="xsd:boolean">true</val></propSet>
<propSet><name>config.guestId</name><val xsi:type="xsd:string">otherLinux64Guest</val></propSet>
<propSet><name>runtime.powerState</name><val xsi:type="VirtualMachinePowerState">poweredOn</val></propSet>
<propSet><name>config.hardware.device</name><val xsi:type="ArrayOfVirtualDevice">
<VirtualDevice xsi:type="ParaVirtualSCSIController"><key>202</key><busNumber>0</busNumber></VirtualDevice>
<VirtualDevice xsi:type="VirtualAHCIController"><key>203</key><busNumber>0</busNumber></VirtualDevice>
<VirtualDevice xsi:type="VirtualVmxnet3"><key>204</key><backing xsi:type="VirtualEthernetCardNetworkBackingInfo"><deviceName>VM Network</deviceName></backing><macAddress>00:50:56:01:02:03</macAddress></VirtualDevice>
<VirtualDevice xsi:type="VirtualE1000"><key>205</key><backing xsi:type="VirtualEthernetCardDistributedVirtualPortBackingInfo"><port><portgroupKey>dvportgroup-13</portgroupKey></port></backing><macAddress>00:50:56:01:02:04</macAddress></VirtualDevice>
<VirtualDevice xsi:type="VirtualDisk"><key>206</key><backing xsi:type="VirtualDiskFlatVer2BackingInfo"><fileName>[ds1] web/web.vmdk</fileName></backing><controllerKey>202</controllerKey><unitNumber>0</unitNumber><capacityInKB>65536</capacityInKB></VirtualDevice>
<VirtualDevice xsi:type="VirtualDisk"><key>207</key><backing xsi:type="VirtualDiskFlatVer2BackingInfo"><fileName>[ds1] web/web_1.vmdk</fileName></backing><controllerKey>203</controllerKey><capacityInKB>0</capacityInKB><capacityInBytes>1048576</capacityInBytes></VirtualDevice>
</val></propSet></objects></returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>
EOF
cat > "$out/vmware/fault.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>The session is not authenticated.</faultstring><detail><NotAuthenticatedFault xmlns="urn:vim25" xsi:type="NotAuthenticated"><object type="Folder">group-d1</object></NotAuthenticatedFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>
EOF
cat > "$out/import/import.yaml" <<'EOF'
apiVersion: migration.harvesterhci.io/v1beta1
kind: VirtualMachineImport
metadata:
  name: alpine-export-test
  namespace: default
spec:
  virtualMachineName: "Web Server #1.prod"
  folder: "Discovered VM"
  networkMapping:
  - sourceNetwork: "dvSwitch 1"
    destinationNetwork: "default/vlan1"
  - sourceNetwork: "dvSwitch 2"
    destinationNetwork: "default/vlan2"
    networkInterfaceModel: "e1000"
  defaultNetworkInterfaceModel: "virtio"
  skipPreflightChecks: false
  storageClass: "my-storage-class"
  defaultDiskBusType: "scsi"
  sourceCluster:
    name: vcsim
    namespace: default
    kind: VmwareSource
    apiVersion: migration.harvesterhci.io/v1beta1
  forcePowerOff: false
  gracefulShutdownTimeoutSeconds: 30
---
kind: OvaSource
spec: {url: "http://127.0.0.1/x.ova"}
EOF
for t in vmdk sesparse qcow2 tar ovf manifest yaml vmware cert import openstack; do
  echo "make-seeds: $t: $(ls "$out/$t" | wc -l) seeds, $(du -sk "$out/$t" | cut -f1) KiB"
done
