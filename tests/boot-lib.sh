# Helpers for the boot tests.  Source after lib.sh.
#
# boot_kernel                  prints KVER: the newest installed Debian kernel
#                              whose modules hold ahci, virtio_blk, virtio_scsi
# make_boot_initrd KVER OUT    a gzip cpio: busybox-static, the modules for
#                              virtio-blk / AHCI / virtio-scsi disks and vfat,
#                              and an /init that prints "vmimport-boot: up",
#                              mounts the first partition of vda or sda, prints
#                              "vmimport-boot: DEV: " and /token.txt from it,
#                              and powers off
# make_boot_disk FW KVER INITRD TOKEN OUT
#                              a 32 MiB raw disk: FW=bios: MBR, syslinux, one
#                              FAT partition; FW=uefi: GPT, an EFI system
#                              partition with a standalone GRUB as
#                              EFI/BOOT/BOOTX64.EFI.  The partition holds the
#                              kernel, INITRD and token.txt (TOKEN).  Filled
#                              with mtools: no loop device, no mount.
# qemu_args_from_vm VM.yaml CLAIM_DIR VARS.fd
#                              qemu-system-x86_64 options (one per line) for
#                              what the VirtualMachine says and nothing else:
#                              firmware (bios: SeaBIOS; efi: OVMF, secure boot
#                              must be off), each disk's bus and bootOrder,
#                              its PVC as CLAIM_DIR/<claimName>.raw

BOOT_CMDLINE="console=ttyS0 quiet panic=-1"

boot_kernel () {
  local k
  for k in $(ls -1 /lib/modules | sort -rV); do
    if [ -r "/boot/vmlinuz-$k" ] \
       && modprobe -S "$k" --show-depends ahci >/dev/null 2>&1 \
       && modprobe -S "$k" --show-depends virtio_scsi >/dev/null 2>&1; then
      echo "$k"; return 0
    fi
  done
  echo "no kernel with ahci and virtio_scsi modules (install linux-image-amd64)" >&2
  return 1
}

make_boot_initrd () {
  local kver=$1 out=$2 root m f
  root=$(mktemp -d "$T/initrd.XXXXXX")
  mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/mnt" "$root/lib/modules"
  cp /bin/busybox "$root/bin/busybox"
  if ldd "$root/bin/busybox" >/dev/null 2>&1; then
    echo "/bin/busybox is not static (install busybox-static)" >&2; return 1
  fi
  : > "$root/modules.order"
  for m in virtio_pci virtio_blk virtio_scsi sd_mod ahci vfat nls_cp437 nls_ascii nls_utf8; do
    modprobe -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
  done | awk '!seen[$0]++' | while read -r f; do
    local base
    base=$(basename "$f"); base=${base%.xz}; base=${base%.zst}
    case "$f" in
      *.xz) xz -dc "$f" > "$root/lib/modules/$base" ;;
      *.zst) zstd -qdc "$f" > "$root/lib/modules/$base" ;;
      *) cp "$f" "$root/lib/modules/$base" ;;
    esac
    echo "$base" >> "$root/modules.order"
  done
  cat > "$root/init" <<'INIT'
#!/bin/busybox sh
b=/bin/busybox
$b mount -t devtmpfs dev /dev
$b mount -t proc proc /proc
$b mount -t sysfs sys /sys
while read -r m; do $b insmod "/lib/modules/$m" 2>/dev/null; done < /modules.order
echo "vmimport-boot: up"
dev=
for i in $($b seq 1 300); do
  for d in /dev/vda1 /dev/sda1; do
    if [ -b "$d" ]; then dev=$d; break 2; fi
  done
  $b sleep 0.1
done
if [ -n "$dev" ] && $b mount -t vfat -o ro "$dev" /mnt; then
  echo "vmimport-boot: $dev: $($b cat /mnt/token.txt)"
else
  echo "vmimport-boot: no disk"
fi
$b poweroff -f
INIT
  chmod +x "$root/init"
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out"
}

make_boot_disk () {
  local fw=$1 kver=$2 initrd=$3 token=$4 out=$5
  local part="$out.part" sectors kib
  rm -f "$out" "$part"
  truncate -s 32M "$out"
  if [ "$fw" = bios ]; then
    sectors=63488
    printf 'label: dos\nstart=2048, size=%d, type=c, bootable\n' "$sectors" \
      | sfdisk -q "$out"
  else
    sectors=63454   # GPT: the backup table needs the last 33 sectors
    printf 'label: gpt\nstart=2048, size=%d, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n' \
      "$sectors" | sfdisk -q "$out"
  fi
  kib=$((sectors / 2))
  mkfs.fat -C "$part" "$kib" >/dev/null
  printf '%s\n' "$token" > "$T/token.txt"
  mcopy -i "$part" "/boot/vmlinuz-$kver" ::/vmlinuz
  mcopy -i "$part" "$initrd" ::/initrd.gz
  mcopy -i "$part" "$T/token.txt" ::/token.txt
  if [ "$fw" = bios ]; then
    cat > "$T/syslinux.cfg" <<CFG
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  LINUX /vmlinuz
  INITRD /initrd.gz
  APPEND $BOOT_CMDLINE
CFG
    mcopy -i "$part" "$T/syslinux.cfg" ::/syslinux.cfg
    syslinux --install "$part"
  else
    cat > "$T/grub.cfg" <<CFG
set timeout=0
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
search --no-floppy --file --set=root /token.txt
linux /vmlinuz $BOOT_CMDLINE
initrd /initrd.gz
boot
CFG
    grub-mkstandalone -O x86_64-efi -o "$T/BOOTX64.EFI" \
      --install-modules="linux normal search search_fs_file part_gpt fat configfile serial terminal echo gzio" \
      --modules="part_gpt fat" --locales= --fonts= --themes= \
      "boot/grub/grub.cfg=$T/grub.cfg"
    mmd -i "$part" ::/EFI ::/EFI/BOOT
    mcopy -i "$part" "$T/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
  fi
  dd if="$part" of="$out" bs=1M seek=1 conv=notrunc status=none
  [ "$fw" = bios ] && dd if=/usr/lib/syslinux/mbr/mbr.bin of="$out" bs=440 count=1 conv=notrunc status=none
  rm -f "$part"
}

qemu_args_from_vm () {
  "$PY" - "$1" "$2" "$3" <<'PY'
import sys, yaml
vm_file, claims, vars_fd = sys.argv[1:4]
docs = [d for d in yaml.safe_load_all(open(vm_file)) if d]
vm = [d for d in docs if d.get("kind") == "VirtualMachine"]
assert len(vm) == 1, "expected one VirtualMachine, found %d" % len(vm)
spec = vm[0]["spec"]["template"]["spec"]
dom = spec["domain"]
args = []
boot = dom.get("firmware", {}).get("bootloader", {"bios": {}})
if "efi" in boot:
    # The test has no secure-boot keys: the VM must not ask for it.
    assert boot["efi"].get("secureBoot") is False, "secureBoot must be false here: %r" % boot
    args += ["-drive", "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
             "-drive", "if=pflash,format=raw,unit=1,file=" + vars_fd]
else:
    assert "bios" in boot, boot
vols = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"]}
scsi = False
sata = 0
for i, d in enumerate(sorted(dom["devices"]["disks"], key=lambda d: d.get("bootOrder", 1 << 30))):
    f = "%s/%s.raw" % (claims, vols[d["name"]])
    bus = d["disk"]["bus"]
    args += ["-drive", "if=none,format=raw,id=d%d,file=%s" % (i, f)]
    dev = {"virtio": "virtio-blk-pci,drive=d%d" % i,
           "sata": "ide-hd,bus=ide.%d,drive=d%d" % (sata, i),   # q35's AHCI
           "scsi": "scsi-hd,bus=scsi0.0,drive=d%d" % i}[bus]    # KubeVirt: virtio-scsi
    if bus == "scsi" and not scsi:
        args += ["-device", "virtio-scsi-pci,id=scsi0"]
        scsi = True
    if bus == "sata":
        sata += 1
    if "bootOrder" in d:
        dev += ",bootindex=%d" % d["bootOrder"]
    args += ["-device", dev]
print("\n".join(args))
PY
}
