# VMware tests: build the vCenter simulator (tests/vcsim, Debian's govmomi),
# make the disks with qemu-img, start the peer once.  Sourced by
# tests/vmware.sh after lib.sh.  Gives:
#   $VC_URL $VC_HOST (host:port) $VC_CA $VC_PW (password file) $VC_USER
#   $VC_SRC        vmware://USER@HOST/DC0 (the peer also has F0/DC1: a
#                  datacenter inside a folder)
#   $D             the folder of the disks (and the qemu-img reference raws)
#   vc_stat KEY    a counter of the peer (logins, folder_bytes, ...)
#   vc_expire      drop every session in the peer
#   vc_moref NAME FOLDER   the managed object id of a VM
#   start_vcsim SPEC DIR [ARGS]   another peer (ESX model)

VC_USER='admin@vsphere.local'
D="$T/disks"
mkdir -p "$D"

build_vcsim () {
  VCSIM="$B/tests/vcsim/vcsim"
  mkdir -p "$B/tests/vcsim"
  # Go's build cache makes the second build take a second; without a HOME
  # it lives in the build folder.
  local cache=${GOCACHE:-${HOME:+$HOME/.cache/go-build}}
  (cd "$S/tests/vcsim" && GO111MODULE=off GOPATH=/usr/share/gocode \
     GOCACHE=${cache:-$B/tests/vcsim/go-cache} go build -o "$VCSIM" .) || return 1
}

# A raw image with recognisable data at a few offsets (and holes between).
make_raw () {
  local img=$1 size=$2
  rm -f "$img"
  qemu-img create -q -f raw "$img" "$size"
  head -c 1048576 /dev/urandom | dd of="$img" conv=notrunc status=none
  head -c 333333 /dev/urandom | dd of="$img" conv=notrunc oflag=seek_bytes seek=2500000 status=none
  seq 1 100000 | dd of="$img" conv=notrunc oflag=seek_bytes seek=$(( $(stat -c %s "$img") - 600000 )) status=none
}

# vmdk NAME SUBFORMAT SIZE: $D/NAME.vmdk from a random raw; the reference
# raw (qemu-img convert -O raw of the VMDK) is $D/NAME.ref.
make_vmdk () {
  local name=$1 sub=$2 size=$3
  make_raw "$D/$name.src" "$size"
  qemu-img convert -q -f raw -O vmdk -o subformat="$sub" "$D/$name.src" "$D/$name.vmdk"
  rm -f "$D/$name.src"
  qemu-img convert -q -f vmdk -O raw "$D/$name.vmdk" "$D/$name.ref"
}

# The files of a disk: the descriptor and its extents.
vmdk_files () {
  local name=$1 f out=""
  for f in "$D/$name".vmdk "$D/$name"-flat.vmdk "$D/$name"-s0*.vmdk; do
    [ -e "$f" ] && out="$out\"$f\","
  done
  echo "[${out%,}]"
}

vmdk_kb () { echo $(( $(stat -c %s "$D/$1.ref") / 1024 )); }

make_fixtures () {
  make_vmdk flat monolithicFlat 8M
  make_vmdk sparse monolithicSparse 12M
  make_vmdk stream streamOptimized 10M
  make_vmdk split twoGbMaxExtentSparse 2100M
  make_vmdk ide0 monolithicSparse 4M
  make_vmdk bl0 monolithicFlat 4M
  make_vmdk sas0 monolithicSparse 4M
  # A 3-deep snapshot chain: base <- app-000001 <- app-000002 <- app-000003.
  ( cd "$D" && qemu-img create -q -f vmdk base.vmdk 16M \
    && qemu-io -f vmdk -c "write -P 0x11 0 3M" -c "write -P 0x12 8M 1M" base.vmdk >/dev/null \
    && qemu-img create -q -f vmdk -b base.vmdk -F vmdk app-000001.vmdk \
    && qemu-io -f vmdk -c "write -P 0x21 1M 1M" app-000001.vmdk >/dev/null \
    && qemu-img create -q -f vmdk -b app-000001.vmdk -F vmdk app-000002.vmdk \
    && qemu-io -f vmdk -c "write -P 0x31 2M 2M" -c "write -z 8M 64k" app-000002.vmdk >/dev/null \
    && qemu-img create -q -f vmdk -b app-000002.vmdk -F vmdk app-000003.vmdk \
    && qemu-io -f vmdk -c "write -P 0x41 15M 1M" app-000003.vmdk >/dev/null \
    && qemu-img convert -q -f vmdk -O raw app-000003.vmdk chain.ref ) || return 1
  # A linked clone: its parent, a template's disk in another folder, named
  # by its absolute VMFS path, as vSphere writes it.
  ( cd "$D" && qemu-img create -q -f vmdk lbase.vmdk 8M \
    && qemu-io -f vmdk -c "write -P 0x51 0 2M" -c "write -P 0x52 6M 1M" lbase.vmdk >/dev/null \
    && qemu-img convert -q -f vmdk -O raw lbase.vmdk lbase.ref \
    && qemu-img create -q -f vmdk -b lbase.vmdk -F vmdk lclone.vmdk \
    && qemu-io -f vmdk -c "write -P 0x61 1M 2M" lclone.vmdk >/dev/null \
    && qemu-img convert -q -f vmdk -O raw lclone.vmdk lclone.ref \
    && python3 "$S/tests/vmdk-set-hint.py" lclone.vmdk lbase.vmdk \
         /vmfs/volumes/LocalDS_0/linked/lbase.vmdk ) || return 1
  # Hostile or broken: a descriptor whose extent climbs out of the
  # datastore, a disk whose file goes away after the VM is made.
  printf '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW 8 FLAT "../../../../../etc/hostname" 0\n' > "$D/escape.vmdk"
  cp "$D/sas0.vmdk" "$D/gone.vmdk"
  # 20 GiB, nearly empty: inspect must not read it.
  qemu-img create -q -f vmdk "$D/big.vmdk" 20G
}

write_spec () {
  cat > "$T/spec.json" <<EOF
{"user": "$VC_USER", "password": "$(cat "$VC_PW")", "vms": [
 {"name": "app", "folder": "prod/web", "guest": "otherLinux64Guest", "tools": "running",
  "cpus": 4, "cores": 2, "memory_mb": 2048, "firmware": "efi", "secure_boot": true,
  "controllers": ["pvscsi", "sata"],
  "disks": [
    {"controller": 0, "datastore_path": "app/flat.vmdk", "files": $(vmdk_files flat), "capacity_kb": $(vmdk_kb flat)},
    {"controller": 1, "datastore_path": "app/sparse.vmdk", "files": $(vmdk_files sparse), "capacity_kb": $(vmdk_kb sparse)}],
  "nics": [{"type": "vmxnet3", "network": "VM Network", "mac": "00:50:56:01:02:03"},
           {"type": "e1000", "network": "DC0_DVPG0", "mac": "00:50:56:01:02:04"}]},
 {"name": "db", "folder": "prod/db", "guest": "centos7_64Guest", "tools": "unknown",
  "cpus": 2, "cores": 1, "memory_mb": 1024, "firmware": "bios",
  "controllers": ["lsilogic", "nvme"],
  "disks": [
    {"controller": 0, "datastore_path": "db vm/stream.vmdk", "files": $(vmdk_files stream), "capacity_kb": $(vmdk_kb stream)},
    {"controller": 1, "datastore_path": "db vm/split.vmdk", "files": $(vmdk_files split), "capacity_kb": $(vmdk_kb split)}],
  "nics": [{"type": "e1000e", "network": "DC0_DVPG0"}, {"type": "vmxnet2", "network": "VM Network"}]},
 {"name": "app", "folder": "test", "guest": "windows9_64Guest",
  "cpus": 1, "cores": 1, "memory_mb": 512, "firmware": "efi", "secure_boot": false,
  "controllers": ["ide", "buslogic", "lsilogic-sas"],
  "disks": [
    {"controller": 0, "datastore_path": "app2/app-000003.vmdk", "files": ["$D/base.vmdk", "$D/app-000001.vmdk", "$D/app-000002.vmdk", "$D/app-000003.vmdk"], "capacity_kb": 16384},
    {"controller": 1, "datastore_path": "app2/bl0.vmdk", "files": $(vmdk_files bl0), "capacity_kb": $(vmdk_kb bl0)},
    {"controller": 2, "datastore_path": "app2/sas0.vmdk", "files": $(vmdk_files sas0), "capacity_kb": $(vmdk_kb sas0)}],
  "nics": [{"type": "pcnet32", "network": "VM Network"}]},
 {"name": "big", "folder": "", "guest": "otherGuest64", "cpus": 1, "cores": 1, "memory_mb": 256,
  "firmware": "bios", "controllers": ["pvscsi"],
  "disks": [{"controller": 0, "datastore_path": "big/big.vmdk", "files": ["$D/big.vmdk"], "capacity_kb": 20971520}],
  "nics": []},
 {"name": "template", "folder": "test", "guest": "otherGuest64", "cpus": 1, "cores": 1, "memory_mb": 256,
  "firmware": "bios", "controllers": ["pvscsi"],
  "disks": [{"controller": 0, "datastore_path": "linked/lbase.vmdk", "files": ["$D/lbase.vmdk"], "capacity_kb": 8192}],
  "nics": []},
 {"name": "clone", "folder": "test", "guest": "otherGuest64", "cpus": 1, "cores": 1, "memory_mb": 256,
  "firmware": "bios", "controllers": ["pvscsi"],
  "disks": [{"controller": 0, "datastore_path": "clone/lclone.vmdk", "files": ["$D/lclone.vmdk"], "capacity_kb": 8192}],
  "nics": []},
 {"name": "escape", "folder": "bad", "guest": "otherGuest64", "cpus": 1, "cores": 1, "memory_mb": 256,
  "firmware": "bios", "controllers": ["pvscsi"],
  "disks": [{"controller": 0, "datastore_path": "escape/escape.vmdk", "files": ["$D/escape.vmdk"], "capacity_kb": 4}],
  "nics": []},
 {"name": "broken", "folder": "bad", "guest": "otherGuest64", "cpus": 1, "cores": 1, "memory_mb": 256,
  "firmware": "bios", "controllers": ["pvscsi"],
  "disks": [{"controller": 0, "datastore_path": "broken/gone.vmdk", "files": ["$D/gone.vmdk"], "capacity_kb": $(vmdk_kb sas0)}],
  "nics": []},
 {"name": "running", "folder": "power", "guest": "otherGuest64", "cpus": 1, "cores": 1, "memory_mb": 256,
  "firmware": "bios", "power_on": true, "controllers": ["pvscsi"],
  "disks": [{"controller": 0, "datastore_path": "running/ide0.vmdk", "files": $(vmdk_files ide0), "capacity_kb": $(vmdk_kb ide0)}],
  "nics": []},
 {"name": "stubborn", "folder": "power", "guest": "otherGuest64", "cpus": 1, "cores": 1, "memory_mb": 256,
  "firmware": "bios", "power_on": true, "ignore_shutdown": true, "tools": "running",
  "controllers": [], "disks": [], "nics": []},
 {"name": "forced", "folder": "power", "guest": "otherGuest64", "cpus": 1, "cores": 1, "memory_mb": 256,
  "firmware": "bios", "power_on": true, "ignore_shutdown": true, "controllers": [], "disks": [], "nics": []},
 {"name": "graceful", "folder": "power", "guest": "otherGuest64", "cpus": 1, "cores": 1, "memory_mb": 256,
  "firmware": "bios", "power_on": true, "tools": "running", "controllers": [], "disks": [], "nics": []},
 {"name": "notools", "folder": "power", "guest": "otherGuest64", "cpus": 1, "cores": 1, "memory_mb": 256,
  "firmware": "bios", "power_on": true, "tools": "not-running", "controllers": [], "disks": [], "nics": []},
 {"name": "lab", "datacenter": "F0/DC1", "folder": "team", "guest": "rhel9_64Guest",
  "cpus": 2, "cores": 2, "memory_mb": 1024, "firmware": "efi", "secure_boot": true, "tools": "running",
  "controllers": ["pvscsi"],
  "disks": [{"controller": 0, "datastore_path": "lab/flat.vmdk", "files": $(vmdk_files flat), "capacity_kb": $(vmdk_kb flat)}],
  "nics": [{"type": "vmxnet3", "network": "DC1_DVPG0", "mac": "00:50:56:01:0d:01"}]}
]}
EOF
}

# start_vcsim SPEC DIR [ARGS...]: a peer in the background; waits for its
# state.json.
start_vcsim () {
  local spec=$1 dir=$2 i; shift 2
  mkdir -p "$dir"
  "$VCSIM" -spec "$spec" -dir "$dir" "$@" >"$dir/log" 2>&1 &
  local pid=$!
  at_exit "kill $pid; wait $pid"
  for i in $(seq 1 600); do
    [ -s "$dir/state.json" ] && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$dir/log" >&2; return 1; }
    sleep 0.1
  done
  echo "vcsim did not start" >&2; return 1
}

json_get () { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }

vc_stat () { curl -s --cacert "$VC_CA" "${VC_URL%/sdk}/vcsim/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
vc_expire () { curl -s -X POST --cacert "$VC_CA" "${VC_URL%/sdk}/vcsim/expire" >/dev/null; }
vc_reset () { curl -s -X POST --cacert "$VC_CA" "${VC_URL%/sdk}/vcsim/reset" >/dev/null; }
# vc_moref NAME INDEX: the moref of the INDEXth VM of the spec named NAME
vc_moref () {
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print([v["moref"] for v in s["vms"] if v["name"]==sys.argv[2]][int(sys.argv[3])])' \
    "$VC_DIR/state.json" "$1" "${2:-0}"
}

setup_vmware () {
  VC_PW="$T/password"
  printf 'Str0ng&<pass>word\n' > "$VC_PW"
  build_vcsim || return 1
  make_fixtures || return 1
  write_spec
  VC_DIR="$T/vc"
  # Pages of 4 objects: the inventory takes ContinueRetrievePropertiesEx.
  start_vcsim "$T/spec.json" "$VC_DIR" -page 4 || return 1
  VC_URL=$(json_get "$VC_DIR/state.json" url)
  VC_CA="$VC_DIR/ca.pem"
  VC_HOST=${VC_URL#https://}; VC_HOST=${VC_HOST%/sdk}
  VC_SRC="vmware://admin%40vsphere.local@$VC_HOST/DC0"
  VC_OPTS=(--ca-cert "$VC_CA" --password-file "$VC_PW")
}
