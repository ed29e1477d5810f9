#!/usr/bin/env bash
# The imported disk boots with what `vmimport manifest` says.  A tiny
# bootable disk (a Debian kernel, a busybox initramfs that prints a marker
# and a token it reads from the disk) is built, wrapped in an OVA (a
# streamOptimized VMDK; the OVF says the firmware and the disk controller),
# copied out of the OVA with `vmimport copy` into the file standing in for
# the PVC, and booted with qemu (TCG) configured only from the generated
# VirtualMachine: firmware, each disk's bus and boot order.
#
#   boot.sh VARIANT    bios-virtio | bios-sata | uefi-scsi | bios-ide
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/ova-lib.sh"
. "$VMI_SRC/tests/boot-lib.sh"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3   # Debian's python3-yaml
variant=${1:?variant}
BOOT_SECONDS=${BOOT_SECONDS:-180}
case "$variant" in
  # fw   OVF controller  KubeVirt bus  guest device
  bios-virtio) set -- bios virtio virtio /dev/vda1 ;;
  bios-sata)   set -- bios sata   sata   /dev/sda1 ;;
  bios-ide)    set -- bios ide    sata   /dev/sda1 ;;
  uefi-scsi)   set -- uefi pvscsi scsi   /dev/sda1 ;;
  *) echo "unknown variant $variant" >&2; exit 2 ;;
esac
fw=$1 ovf_bus=$2 kv_bus=$3 guest_dev=$4
ovf_fw=$([ "$fw" = uefi ] && echo efi || echo bios)
# Debian 12's GRUB (2.06) on OVMF fails to place the kernel and initrd with
# 256 MiB ("error: out of memory"); 512 MiB boots.
mem=$([ "$fw" = uefi ] && echo 512 || echo 256)

kver=$(boot_kernel) || exit 1
token="token-$(openssl rand -hex 8)"
make_boot_initrd "$kver" "$T/initrd.gz" || exit 1
make_boot_disk "$fw" "$kver" "$T/initrd.gz" "$token" "$T/boot.raw" || exit 1

mkdir -p "$T/ova"
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$T/boot.raw" "$T/ova/boot.vmdk"
make_ovf "$T/ova/boot.ovf" "{\"name\": \"Boot Test $variant\", \"cpus\": 1, \"memory\": [256, \"byte * 2^20\"],
  \"firmware\": \"$ovf_fw\", \"secure_boot\": false,
  \"disks\": [{\"href\": \"boot.vmdk\", \"capacity\": [32, \"byte * 2^20\"], \"format\": \"vmdk\", \"bus\": \"$ovf_bus\"}],
  \"nics\": [{\"network\": \"VM Network\", \"model\": \"VmxNet3\", \"mac\": \"00:50:56:01:02:03\"}]}"
make_ova "$T/boot.ova" "$T/ova" ustar boot.ovf boot.vmdk

"$VMI" manifest "$T/boot.ova" > "$T/vm.yaml"
check manifest_written test -s "$T/vm.yaml"
check manifest_validates "$PY" "$S/tests/k8s-validate.py" "$S/tests/schemas" "$T/vm.yaml"
claim=$("$PY" -c 'import sys,yaml; print([d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"]=="PersistentVolumeClaim"][0]["metadata"]["name"])' "$T/vm.yaml")
check "vm_says_bus_$kv_bus" grep -q "bus: $kv_bus\$" "$T/vm.yaml"

mkdir -p "$T/pvc"
check copy_into_claim_file "$VMI" copy "$T/boot.ova" "$T/pvc/$claim.raw" --quiet
check copy_equals_disk cmp "$T/pvc/$claim.raw" "$T/boot.raw"

cp /usr/share/OVMF/OVMF_VARS_4M.fd "$T/vars.fd"
mapfile -t qargs < <(qemu_args_from_vm "$T/vm.yaml" "$T/pvc" "$T/vars.fd")
# The qemu options come from the YAML: another bus or firmware there gives
# other options (and secure boot, which this test cannot do, is refused).
for other in virtio sata scsi; do
  [ "$other" = "$kv_bus" ] && continue
  sed "s/bus: $kv_bus\$/bus: $other/" "$T/vm.yaml" > "$T/vm-$other.yaml"
  dev=$(case $other in virtio) echo virtio-blk-pci;; sata) echo ide-hd;; scsi) echo scsi-hd;; esac)
  check "qemu_options_follow_bus_$other" bash -c "$(declare -f qemu_args_from_vm); PY=$PY; qemu_args_from_vm '$T/vm-$other.yaml' '$T/pvc' '$T/vars.fd' | grep -q '^$dev,'"
done
if [ "$fw" = uefi ]; then
  sed 's/secureBoot: false/secureBoot: true/' "$T/vm.yaml" > "$T/vm-sb.yaml"
  check_fails qemu_options_refuse_secure_boot "secureBoot must be false" \
    bash -c "$(declare -f qemu_args_from_vm); PY=$PY; qemu_args_from_vm '$T/vm-sb.yaml' '$T/pvc' '$T/vars.fd'"
else
  check qemu_options_bios_has_no_pflash bash -c "! printf '%s\n' \"\${@}\" | grep -q pflash" _ "${qargs[@]}"
fi
echo "qemu: ${qargs[*]}"
start=$(date +%s)
timeout "$BOOT_SECONDS" qemu-system-x86_64 -machine q35,accel=tcg -m "$mem" -smp 1 \
  -nodefaults -no-user-config -display none -no-reboot -net none \
  -serial "file:$T/serial.log" "${qargs[@]}" 2>"$T/qemu.err"
rc=$?
echo "qemu exited $rc after $(( $(date +%s) - start )) s"
# Firmware and GRUB write escape sequences and bare CRs: lines are what
# remains after the last CR.
tr '\r' '\n' < "$T/serial.log" > "$T/console.txt"
check boot_marker_on_console grep -aqx "vmimport-boot: up" "$T/console.txt"
check "boot_reads_token_from_$guest_dev" grep -aqx "vmimport-boot: $guest_dev: $token" "$T/console.txt"
check guest_powered_off_in_time test "$rc" -eq 0
if [ "$FAILS" -gt 0 ]; then
  echo "--- serial console"; grep -av '^$' "$T/console.txt" | tail -n 40
  echo "--- qemu stderr"; cat "$T/qemu.err"
fi
finish
