#!/usr/bin/env bash
# OVAs as real exporters write them: the OVF in a folder of the archive
# (tar cf app.ova app/), a VirtualBox export, an OVF 2.x vApp
# (VirtualSystemCollection) with capacity units in every form, no
# NetworkSection and a disk in an ovf:format we do not know, manifests
# with SHA1/SHA256/SHA512 lines, a signed .cert.  Each appliance is mounted
# locally and over HTTP: vm.json field by field, every disk cmp-identical
# to qemu-img convert -O raw of the disk file.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/nginx.sh"
. "$VMI_SRC/tests/ova-lib.sh"
OT="$B/tests/ova-tool"
W="$T/www"
mkdir -p "$W" "$T/raw"

# ---- disks: real content, made by qemu-img ----
make_ext4 "$T/raw/a.raw" 24M
qemu-img create -q -f raw "$T/raw/b.raw" 8M
printf 'disk b, second VM' | dd of="$T/raw/b.raw" bs=1 seek=3000000 conv=notrunc status=none
head -c 300000 /dev/urandom | dd of="$T/raw/b.raw" bs=1 seek=5000000 conv=notrunc status=none
qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized "$T/raw/a.raw" "$T/raw/a.vmdk"
qemu-img convert -q -f raw -O qcow2 -c "$T/raw/b.raw" "$T/raw/b.qcow2"
# What the disks must read as: qemu-img's conversion of the disk files.
qemu-img convert -q -O raw "$T/raw/a.vmdk" "$T/raw/a.raw"
qemu-img convert -q -O raw "$T/raw/b.qcow2" "$T/raw/b.raw"

# sha FILE...: manifest lines of the files in the current folder, mixing
# SHA1, SHA256 and SHA512 as different exporters do.
mf_lines () {
  local algo=$1 f; shift
  for f in "$@"; do
    printf '%s(%s)= %s\n' "${algo^^}" "$f" "$("${algo}sum" < "$f" | cut -d' ' -f1)"
  done
}

# ---- 1. the OVF in a folder of the archive ----
mkdir -p "$T/fold/app"
cp "$T/raw/a.vmdk" "$T/fold/app/disk1.vmdk"
make_ovf "$T/fold/app/app.ovf" '{"name": "folder-app", "cpus": 2, "memory": [1, "byte * 2^30"],
  "firmware": "bios", "os": "debian10_64Guest",
  "disks": [{"href": "disk1.vmdk", "capacity": [24, "byte * 2^20"], "format": "vmdk", "bus": "scsi"}],
  "nics": [{"network": "VM Network", "model": "VmxNet3", "mac": "00:50:56:00:00:01"}]}'
(cd "$T/fold/app" && mf_lines sha256 app.ovf disk1.vmdk > app.mf)
tar -C "$T/fold" -cf "$W/folder.ova" app/
FOLDER_VMS='[("folder-app", "j[\"cpus\"]==2 and j[\"memory_mib\"]==1024 and j[\"firmware\"]==\"bios\" and j[\"guest_os\"]==\"debian10_64Guest\" and [(d[\"capacity\"],d[\"bus\"],d[\"source_format\"],d[\"source_name\"]) for d in j[\"disks\"]]==[(24<<20,\"scsi\",\"vmdk\",\"disk1.vmdk\")] and [(n[\"network\"],n[\"model\"],n[\"mac\"]) for n in j[\"nics\"]]==[(\"VM Network\",\"VmxNet3\",\"00:50:56:00:00:01\")]", ["a"])]'

# ---- 2. a VirtualBox export (its OVF 1.0 dialect and vbox:Machine) ----
mkdir -p "$T/vbox"
cp "$T/raw/a.vmdk" "$T/vbox/vbox-disk001.vmdk"
cat > "$T/vbox/vbox.ovf" <<'EOF'
<?xml version="1.0"?>
<Envelope ovf:version="1.0" xml:lang="en-US" xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:vbox="http://www.virtualbox.org/ovf/machine">
  <References>
    <File ovf:id="file1" ovf:href="vbox-disk001.vmdk"/>
  </References>
  <DiskSection>
    <Info>List of the virtual disks used in the package</Info>
    <Disk ovf:capacity="25165824" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized" vbox:uuid="3c2d6a1e-0000-4000-8000-000000000001"/>
  </DiskSection>
  <NetworkSection>
    <Info>Logical networks used in the package</Info>
    <Network ovf:name="NAT">
      <Description>Logical network used by this appliance.</Description>
    </Network>
  </NetworkSection>
  <VirtualSystem ovf:id="vbox">
    <Info>A virtual machine</Info>
    <OperatingSystemSection ovf:id="96">
      <Info>The kind of installed guest operating system</Info>
      <Description>Debian_64</Description>
      <vbox:OSType ovf:required="false">Debian_64</vbox:OSType>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements for a virtual machine</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>vbox</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>virtualbox-2.2</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:Caption>2 virtual CPU</rasd:Caption>
        <rasd:Description>Number of virtual CPUs</rasd:Description>
        <rasd:ElementName>2 virtual CPU</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>2</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits>
        <rasd:Caption>2048 MB of memory</rasd:Caption>
        <rasd:Description>Memory Size</rasd:Description>
        <rasd:ElementName>2048 MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>2048</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:Address>0</rasd:Address>
        <rasd:Caption>ideController0</rasd:Caption>
        <rasd:Description>IDE Controller</rasd:Description>
        <rasd:ElementName>ideController0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>PIIX4</rasd:ResourceSubType>
        <rasd:ResourceType>5</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:Address>0</rasd:Address>
        <rasd:Caption>sataController0</rasd:Caption>
        <rasd:Description>SATA Controller</rasd:Description>
        <rasd:ElementName>sataController0</rasd:ElementName>
        <rasd:InstanceID>4</rasd:InstanceID>
        <rasd:ResourceSubType>AHCI</rasd:ResourceSubType>
        <rasd:ResourceType>20</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>
        <rasd:Caption>Ethernet adapter on 'NAT'</rasd:Caption>
        <rasd:Connection>NAT</rasd:Connection>
        <rasd:ElementName>Ethernet adapter on 'NAT'</rasd:ElementName>
        <rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceSubType>E1000</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:Caption>disk1</rasd:Caption>
        <rasd:Description>Disk Image</rasd:Description>
        <rasd:ElementName>disk1</rasd:ElementName>
        <rasd:HostResource>/disk/vmdisk1</rasd:HostResource>
        <rasd:InstanceID>6</rasd:InstanceID>
        <rasd:Parent>4</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
    </VirtualHardwareSection>
    <vbox:Machine ovf:required="false" version="1.19-linux" uuid="{3c2d6a1e-0000-4000-8000-0000000000aa}" name="vbox" OSType="Debian_64">
      <ovf:Info>Complete VirtualBox machine configuration in VirtualBox format</ovf:Info>
      <Hardware>
        <CPU count="2"/>
        <Memory RAMSize="2048"/>
        <Firmware type="EFI"/>
        <Network>
          <Adapter slot="0" enabled="true" MACAddress="0800271A2B3C" type="82540EM">
            <NAT/>
          </Adapter>
          <Adapter slot="1" enabled="false" MACAddress="080027FFFFFF" type="82540EM"/>
        </Network>
      </Hardware>
      <StorageControllers>
        <StorageController name="SATA" type="AHCI" PortCount="1">
          <AttachedDevice type="HardDisk" port="0" device="0"/>
        </StorageController>
      </StorageControllers>
    </vbox:Machine>
  </VirtualSystem>
</Envelope>
EOF
(cd "$T/vbox" && mf_lines sha1 vbox.ovf vbox-disk001.vmdk > vbox.mf)
make_ova "$W/vbox.ova" "$T/vbox" ustar vbox.ovf vbox-disk001.vmdk vbox.mf
VBOX_VMS='[("vbox", "j[\"cpus\"]==2 and j[\"memory_mib\"]==2048 and j[\"firmware\"]==\"efi\" and j[\"guest_os\"]==\"Debian_64\" and [(d[\"capacity\"],d[\"bus\"],d[\"source_format\"]) for d in j[\"disks\"]]==[(24<<20,\"sata\",\"vmdk\")] and [(n[\"network\"],n[\"model\"],n[\"mac\"]) for n in j[\"nics\"]]==[(\"NAT\",\"E1000\",\"08:00:27:1a:2b:3c\")]", ["a"])]'

# ---- 3. an OVF 2.x vApp: two VirtualSystems in a collection ----
mkdir -p "$T/vapp"
cp "$T/raw/a.vmdk" "$T/vapp/web.vmdk"
cp "$T/raw/b.qcow2" "$T/vapp/db.img"
vapp_ovf () {   # OUT DB_DISK_OF_WEB(yes/no)
  cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/2" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/2" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:sasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_StorageAllocationSettingData" xmlns:epasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_EthernetPortAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf">
  <References>
    <File ovf:href="web.vmdk" ovf:id="file1"/>
    <File ovf:href="db.img" ovf:id="file2"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="24" ovf:capacityAllocationUnits="byte * 2^20" ovf:diskId="web1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
    <Disk ovf:capacity="8388608" ovf:diskId="db1" ovf:fileRef="file2" ovf:format="http://example.com/formats/some-format-we-do-not-know"/>
  </DiskSection>
  <VirtualSystemCollection ovf:id="shop-vapp">
    <Info>A vApp</Info>
    <Name>shop-vapp</Name>
    <VirtualSystem ovf:id="web">
      <Info>A virtual machine</Info>
      <Name>web</Name>
      <VirtualHardwareSection>
        <Info>Virtual hardware</Info>
        <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>4</rasd:VirtualQuantity></Item>
        <Item><rasd:AllocationUnits>byte * 2^30</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
        <Item><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceSubType>VirtualSCSI</rasd:ResourceSubType><rasd:ResourceType>6</rasd:ResourceType></Item>
        <StorageItem><sasd:HostResource>ovf:/disk/web1</sasd:HostResource><sasd:InstanceID>4</sasd:InstanceID><sasd:Parent>3</sasd:Parent><sasd:ResourceType>17</sasd:ResourceType></StorageItem>
$([ "$2" = yes ] && echo '        <StorageItem><sasd:HostResource>ovf:/disk/db1</sasd:HostResource><sasd:InstanceID>7</sasd:InstanceID><sasd:Parent>3</sasd:Parent><sasd:ResourceType>17</sasd:ResourceType></StorageItem>')
        <EthernetPortItem><epasd:Address>00:50:56:00:00:0a</epasd:Address><epasd:Connection>frontend</epasd:Connection><epasd:InstanceID>5</epasd:InstanceID><epasd:ResourceSubType>VmxNet3</epasd:ResourceSubType><epasd:ResourceType>10</epasd:ResourceType></EthernetPortItem>
        <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="efi"/>
      </VirtualHardwareSection>
    </VirtualSystem>
    <VirtualSystem ovf:id="db">
      <Info>A virtual machine</Info>
      <Name>db</Name>
      <VirtualHardwareSection>
        <Info>Virtual hardware</Info>
        <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
        <Item><rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>512</rasd:VirtualQuantity></Item>
        <Item><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>5</rasd:ResourceType></Item>
        <Item><rasd:HostResource>ovf:/disk/db1</rasd:HostResource><rasd:InstanceID>4</rasd:InstanceID><rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
      </VirtualHardwareSection>
    </VirtualSystem>
  </VirtualSystemCollection>
</Envelope>
EOF
}
vapp_ovf x no > "$T/vapp/vapp.ovf"
(cd "$T/vapp" && { mf_lines sha512 vapp.ovf; mf_lines sha256 web.vmdk; mf_lines sha1 db.img; } > vapp.mf)
# Signed as ovftool signs: the manifest's signature, then the certificate.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/O=Example Vendor/CN=Example Appliance Signer" \
  -keyout "$T/sign.key" -out "$T/sign.crt" 2>/dev/null
sign_mf () {   # MF KEY OUT.cert
  { printf 'SHA256(%s)= %s\n' "$(basename "$1")" \
      "$(openssl dgst -sha256 -sign "$2" "$1" | od -An -v -tx1 | tr -d ' \n')"
    cat "$T/sign.crt"; } > "$3"
}
sign_mf "$T/vapp/vapp.mf" "$T/sign.key" "$T/vapp/vapp.cert"
make_ova "$W/vapp.ova" "$T/vapp" ustar vapp.ovf vapp.mf vapp.cert web.vmdk db.img
VAPP_VMS='[("web", "j[\"cpus\"]==4 and j[\"memory_mib\"]==2048 and j[\"firmware\"]==\"efi\" and [(d[\"index\"],d[\"capacity\"],d[\"bus\"],d[\"source_format\"],d[\"source_name\"]) for d in j[\"disks\"]]==[(0,24<<20,\"scsi\",\"vmdk\",\"web.vmdk\")] and [(n[\"network\"],n[\"model\"],n[\"mac\"]) for n in j[\"nics\"]]==[(\"frontend\",\"VmxNet3\",\"00:50:56:00:00:0a\")]", ["a"]),
           ("db", "j[\"cpus\"]==1 and j[\"memory_mib\"]==512 and j[\"firmware\"] is None and [(d[\"index\"],d[\"capacity\"],d[\"bus\"],d[\"source_format\"],d[\"source_name\"]) for d in j[\"disks\"]]==[(0,8<<20,\"ide\",\"qcow2\",\"db.img\")] and j[\"nics\"]==[]", ["b"])]'

# ---- 4. chunked files (ovftool --chunkSize): disk1.vmdk.000000000, ... ----
mkdir -p "$T/chunk" "$W/chunk-ovf" "$W/chunk-nosize"
split -b 1048576 -d -a 9 "$T/raw/a.vmdk" "$T/chunk/disk1.vmdk."
total=$(stat -c %s "$T/raw/a.vmdk")
pieces=$(cd "$T/chunk" && ls disk1.vmdk.*)
make_ovf "$T/chunk/chunk.ovf" '{"name": "chunked", "cpus": 1, "memory": [512, "MegaBytes"],
  "disks": [{"href": "disk1.vmdk", "capacity": [24, "byte * 2^20"], "format": "vmdk", "bus": "sata"}], "nics": []}'
sed -i "s|<File ovf:href=\"disk1.vmdk\" ovf:id=\"file1\"/>|<File ovf:chunkSize=\"1048576\" ovf:href=\"disk1.vmdk\" ovf:id=\"file1\" ovf:size=\"$total\"/>|" "$T/chunk/chunk.ovf"
(cd "$T/chunk" && mf_lines sha256 chunk.ovf $pieces > chunk.mf)
make_ova "$W/chunk.ova" "$T/chunk" ustar chunk.ovf chunk.mf $pieces
cp "$T/chunk/"* "$W/chunk-ovf/"
cp "$T/chunk/"* "$W/chunk-nosize/"
sed -i "s| ovf:size=\"$total\"||" "$W/chunk-nosize/chunk.ovf"
CHUNK_VMS='[("chunked", "j[\"memory_mib\"]==512 and [(d[\"capacity\"],d[\"bus\"],d[\"source_format\"],d[\"source_name\"]) for d in j[\"disks\"]]==[(24<<20,\"sata\",\"vmdk\",\"disk1.vmdk\")]", ["a"])]'

# ---- 5. a gzip-compressed disk (ovf:compression="gzip"), random reads ----
mkdir -p "$T/gz"
gzip -c "$T/raw/a.vmdk" > "$T/gz/disk1.vmdk"
make_ovf "$T/gz/gz.ovf" '{"name": "gz", "cpus": 1, "memory": [256, "MegaBytes"],
  "disks": [{"href": "disk1.vmdk", "capacity": [24, "byte * 2^20"], "format": "vmdk", "bus": "ide", "gzip": true}], "nics": []}'
make_ova "$W/gz.ova" "$T/gz" ustar gz.ovf disk1.vmdk
GZ_VMS='[("gz", "[(d[\"capacity\"],d[\"bus\"],d[\"source_format\"]) for d in j[\"disks\"]]==[(24<<20,\"ide\",\"vmdk\")]", ["a"])]'
# A raw disk of 48 MiB (random, text, zeros) for the counted random reads.
{ head -c 12000000 /dev/urandom; seq 1 3000000; head -c 9000000 /dev/zero; head -c 3000000 /dev/urandom; } > "$T/raw/g.raw"
gzip -c "$T/raw/g.raw" > "$W/g.gz"

# Compressed, then chunked (ovftool --compress --chunkSize).
mkdir -p "$T/gzc"
gzip -c "$T/raw/a.vmdk" | split -b 1048576 -d -a 9 - "$T/gzc/disk1.vmdk."
make_ovf "$T/gzc/gzc.ovf" '{"name": "gzc", "cpus": 1, "memory": [256, "MegaBytes"],
  "disks": [{"href": "disk1.vmdk", "capacity": [24, "byte * 2^20"], "format": "vmdk", "gzip": true}], "nics": []}'
sed -i 's|<File ovf:href="disk1.vmdk" ovf:id="file1" ovf:compression="gzip"/>|<File ovf:chunkSize="1048576" ovf:href="disk1.vmdk" ovf:id="file1" ovf:compression="gzip"/>|' "$T/gzc/gzc.ovf"
make_ova "$W/gzc.ova" "$T/gzc" ustar gzc.ovf $(cd "$T/gzc" && ls disk1.vmdk.*)

# ---- every shape: vm.json and disks, from a local mount and over HTTP ----
# check_mount TAG MOUNTPOINT SPEC: each (vm, expr, raw disks) of SPEC.
check_mount () {
  local tag=$1 mnt=$2 spec=$3
  python3 - "$mnt" "$T/raw" "$spec" > "$T/mount-$tag.out" 2>&1 <<'PY'
import json, os, subprocess, sys
mnt, raw, spec = sys.argv[1], sys.argv[2], eval(sys.argv[3])
names = sorted(e for e in os.listdir(mnt))
want = sorted(v for v, _, _ in spec)
if names != want:
    sys.exit("VM folders %s, expected %s" % (names, want))
for vm, expr, disks in spec:
    j = json.load(open(os.path.join(mnt, vm, "vm.json")))
    common = (j["name"] == vm and j["source"]["kind"] == "ova"
              and [d["file"] for d in j["disks"]] == ["disk-%d.img" % i for i in range(len(disks))]
              and all(d["allocated"] is not None and 0 <= d["allocated"] <= d["capacity"] for d in j["disks"]))
    if not (common and eval(expr)):
        sys.exit("%s/vm.json: %s is false for\n%s" % (vm, expr, json.dumps(j, indent=1)))
    files = sorted(f for f in os.listdir(os.path.join(mnt, vm)) if f.endswith(".img"))
    if files != ["disk-%d.img" % i for i in range(len(disks))]:
        sys.exit("%s: files %s" % (vm, files))
    for i, d in enumerate(disks):
        subprocess.run(["cmp", os.path.join(mnt, vm, "disk-%d.img" % i),
                        os.path.join(raw, d + ".raw")], check=True)
PY
}
shape () {   # NAME SPEC
  local name=$1 spec=$2 where
  for where in local http; do
    local src="$W/$name.ova" mnt="$T/mnt-$name-$where"
    [ $where = http ] && src="$NGINX_URL/$name.ova"
    if mount_fs "$src" "$mnt"; then
      check "${name}_${where}_mount_vmjson_and_disks_match" check_mount "$name-$where" "$mnt" "$spec"
      [ -s "$T/mount-$name-$where.out" ] && sed 's/^/     | /' "$T/mount-$name-$where.out"
      unmount_fs "$mnt"
    else
      check "${name}_${where}_mounts" false
    fi
  done
}
nginx_start "$W"
shape folder "$FOLDER_VMS"
shape vbox "$VBOX_VMS"
shape vapp "$VAPP_VMS"
shape chunk "$CHUNK_VMS"
shape gz "$GZ_VMS"
check gzip_chunked_ova_http_reads_as_qemu bash -c "'$LT' cat '$NGINX_URL/gzc.ova' '$T/gzc.out' && cmp '$T/gzc.out' '$T/raw/a.raw'"
check gz_ova_http_random_reads_match "$LT" random "$NGINX_URL/gz.ova" "$T/raw/a.raw" 300 3 9
# 200 random reads after one pass: inflating and reading from below cost
# at most one checkpoint interval per read (counted by the layer).
gz_costs () {   # SOURCE
  "$OT" gzip "$1" "$T/raw/g.raw" 200 > "$T/gz.cost" || return 1
  cat "$T/gz.cost"
  read -r _ reads _ inflated _ read _ restarts _ interval _ points _ < "$T/gz.cost"
  [ "$points" -ge 2 ] && [ "$restarts" -ge 1 ] \
    && [ "$inflated" -le $((reads * interval)) ] && [ "$read" -le $((reads * interval)) ]
}
check gzip_200_random_reads_inflate_at_most_one_interval_each gz_costs "$W/g.gz"
nginx_log_clear
check gzip_http_200_random_reads_inflate_at_most_one_interval_each gz_costs "$NGINX_URL/g.gz"
sent=$(nginx_bytes_sent); gzsize=$(stat -c %s "$W/g.gz")
# Bounded: 64 KiB apart and at most 8 checkpoints over 47 MB of output:
# every other one is dropped and the interval doubles, reads stay right.
check gzip_index_stays_within_its_points bash -c "VMI_GZIP_INTERVAL=65536 VMI_GZIP_POINTS=8 '$OT' gzip '$W/g.gz' '$T/raw/g.raw' 50 > '$T/gzb.cost' && cat '$T/gzb.cost' && read -r _ _ _ _ _ _ _ _ _ interval _ points _ < '$T/gzb.cost' && [ \$points -le 8 ] && [ \$points -ge 4 ] && [ \$interval -ge \$((65536 << 6)) ]"
read -r _ _ _ _ _ _ _ _ _ interval _ < "$T/gz.cost"
check gzip_http_random_reads_transfer_at_most_one_interval_each test "$sent" -le $((gzsize + 200 * interval + (1 << 20)))
echo "     (one pass of $gzsize compressed bytes, then 200 random reads: $sent bytes sent in all; $(cat "$T/gz.cost"))"
for v in chunk-ovf chunk-nosize; do
  check "${v}_local_reads_as_qemu" bash -c "'$LT' cat '$W/$v/chunk.ovf' '$T/c.out' && cmp '$T/c.out' '$T/raw/a.raw'"
  check "${v}_http_reads_as_qemu" bash -c "'$LT' cat '$NGINX_URL/$v/chunk.ovf' '$T/c.out' && cmp '$T/c.out' '$T/raw/a.raw'"
done
check chunk_ova_http_parallel_readers_match "$OT" parallel "$NGINX_URL/chunk.ova" 4 $((6 << 20)) "$T/raw/a.raw"
check chunk_ovf_http_random_reads_across_pieces "$LT" random "$NGINX_URL/chunk-ovf/chunk.ovf" "$T/raw/a.raw" 300 3 5
# Lazily: describing the VM opens the VMDK (its header in the first piece,
# its footer and tables in the last), not the pieces between.
nginx_log_clear
"$LT" vmjson "$NGINX_URL/chunk-ovf/chunk.ovf" > /dev/null
check chunk_ovf_http_middle_pieces_untouched_at_open bash -c "grep -q 'disk1.vmdk.000000000' '$NGINX_LOG' && ! grep -q 'disk1.vmdk.000000001' '$NGINX_LOG'"
check chunk_verify_checks_every_piece bash -c "'$OT' verify '$NGINX_URL/chunk.ova' | grep -c ': OK (SHA256)' | grep -qx $(( $(echo $pieces | wc -w) + 1 ))"
cp "$W/chunk.ova" "$W/chunk-bad.ova"
off=$(python3 -c 'import sys,tarfile; print(tarfile.open(sys.argv[1]).getmember("disk1.vmdk.000000001").offset_data + 100)' "$W/chunk-bad.ova")
flip_byte "$W/chunk-bad.ova" "$off"
check_fails chunk_verify_edited_piece_named 'disk1\.vmdk\.000000001.*SHA256 mismatch' "$OT" verify "$W/chunk-bad.ova"
mkdir -p "$T/chunk-huge"; cp "$T/chunk/"* "$T/chunk-huge/"
sed -i "s|ovf:chunkSize=\"1048576\"|ovf:chunkSize=\"1\"|; s|ovf:size=\"$total\"|ovf:size=\"999999999999999\"|" "$T/chunk-huge/chunk.ovf"
check_fails chunk_absurd_piece_count_refused 'ovf:size 999999999999999 in pieces of ovf:chunkSize 1 is 999999999999999 pieces' "$LT" vmjson "$T/chunk-huge/chunk.ovf"
cp "$T/chunk/chunk.ovf" "$T/chunk-huge/chunk.ovf"
sed -i "s|ovf:size=\"$total\"|ovf:size=\"$((total + 1))\"|" "$T/chunk-huge/chunk.ovf"
check_fails chunk_pieces_not_matching_ovf_size_refused "piece [0-9]+ \\(.*disk1\\.vmdk\\.0+[0-9]+\\) is [0-9]+ bytes, expected [0-9]+" "$LT" cat "$T/chunk-huge/chunk.ovf" "$T/c.out"
rm "$W/chunk-ovf/disk1.vmdk.000000001"
check_fails chunk_missing_piece_named 'disk1\.vmdk\.000000001' "$LT" cat "$NGINX_URL/chunk-ovf/chunk.ovf" "$T/c.out"

# ---- manifests and signatures ----
check folder_verify_manifest_beside_ovf_in_folder bash -c "'$OT' verify '$W/folder.ova' | grep -qx 'disk1.vmdk: OK (SHA256)'"
check vbox_verify_sha1_manifest "$OT" verify "$NGINX_URL/vbox.ova"
check vapp_verify_sha1_sha256_sha512_lines bash -c "'$OT' verify '$W/vapp.ova' > '$T/v.out' && grep -qx 'vapp.ovf: OK (SHA512)' '$T/v.out' && grep -qx 'web.vmdk: OK (SHA256)' '$T/v.out' && grep -qx 'db.img: OK (SHA1)' '$T/v.out'"
check vapp_verify_says_who_signed bash -c "'$VMI' verify '$NGINX_URL/vapp.ova' | grep -E '^vapp\.cert: OK \(SHA256 signature of vapp\.mf, signed by .*CN ?= ?Example Appliance Signer.*certificate not trusted: self.signed'"
check vapp_verify_trusted_with_ca_cert bash -c "'$VMI' verify --ca-cert '$T/sign.crt' '$W/vapp.ova' | grep -q 'vapp.cert: OK .*; certificate trusted)'"
mkdir -p "$W/vapp-ovf"; cp "$T/vapp/"* "$W/vapp-ovf/"
check vapp_ovf_beside_http_verify_checks_cert bash -c "'$VMI' verify '$NGINX_URL/vapp-ovf/vapp.ovf' | grep -q '^vapp.cert: OK (SHA256 signature of vapp.mf, signed by'"
check folder_ovf_beside_without_cert_verifies bash -c "mkdir -p '$W/fold-ovf' && cp '$T/fold/app/'* '$W/fold-ovf/' && '$VMI' verify '$W/fold-ovf/app.ovf'"
# Signed by another key: the signature does not verify.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/other.key" 2>/dev/null
mkdir -p "$T/vapp-bad"; cp "$T/vapp/"* "$T/vapp-bad/"
sign_mf "$T/vapp-bad/vapp.mf" "$T/other.key" "$T/vapp-bad/vapp.cert"
make_ova "$W/vapp-badsig.ova" "$T/vapp-bad" ustar vapp.ovf vapp.mf vapp.cert web.vmdk db.img
check_fails vapp_wrong_signature_is_an_error 'vapp\.cert: the signature of vapp\.mf does not verify' "$VMI" verify "$W/vapp-badsig.ova"
check vapp_wrong_signature_line_names_signer bash -c "'$VMI' verify '$W/vapp-badsig.ova' | grep -q 'vapp.cert: FAILED (the SHA256 signature of vapp.mf does not verify with the certificate of .*Example Appliance Signer'"
# A manifest edited after signing (its lines still match the files).
cp "$T/vapp/vapp.cert" "$T/vapp-bad/vapp.cert"
printf '\n' >> "$T/vapp-bad/vapp.mf"
make_ova "$W/vapp-mfedit.ova" "$T/vapp-bad" ustar vapp.ovf vapp.mf vapp.cert web.vmdk db.img
check_fails vapp_manifest_edited_after_signing_is_an_error 'signature of vapp\.mf does not verify' "$VMI" verify "$NGINX_URL/vapp-mfedit.ova"
printf 'SHA256(vapp.mf)= zz\n' > "$T/vapp-bad/vapp.cert"
make_ova "$W/vapp-garbage.ova" "$T/vapp-bad" ustar vapp.ovf vapp.mf vapp.cert web.vmdk db.img
check_fails vapp_garbage_cert_is_a_clear_error 'vapp\.cert: line 1: the signature is not hexadecimal' "$VMI" verify "$W/vapp-garbage.ova"

# ---- refusals ----
vapp_ovf x yes > "$T/vapp-bad/vapp.ovf"
make_ova "$W/vapp-shared.ova" "$T/vapp-bad" ustar vapp.ovf web.vmdk db.img
check_fails vapp_disk_of_two_systems_names_both 'disk db1 is used by two VirtualSystems, "web" and "db"' "$LT" vmjson "$W/vapp-shared.ova"
mkdir -p "$T/esc/app"; cp "$T/raw/a.vmdk" "$T/esc/outside.vmdk"
make_ovf "$T/esc/app/app.ovf" '{"name": "esc", "cpus": 1, "memory": [1, "byte * 2^30"],
  "disks": [{"href": "../outside.vmdk", "capacity": [24, "byte * 2^20"]}], "nics": []}'
tar -C "$T/esc" -cf "$W/escape.ova" app/ outside.vmdk
check_fails folder_href_leaving_the_folder_refused '"\.\./outside\.vmdk", which is outside the OVA; refused' "$LT" vmjson "$W/escape.ova"
finish
