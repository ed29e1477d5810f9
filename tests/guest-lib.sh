# The test guest of the conversion tests: a small real Debian 12 that
# virt-v2v recognises, set up as a VMware guest on SATA would be.  Source
# after lib.sh.
#
# guest_image        prints the path of the raw disk (built on first use,
#                    then cached under $VMI_GUEST_CACHE, default /var/tmp,
#                    keyed by a hash of the recipe's code: change it and a
#                    new image is built)
#
# The guest: debootstrap --variant=minbase from the apt mirror this machine
# is configured with; linux-image-amd64, initramfs-tools with MODULES=list
# naming ahci, sd_mod and ext4 only (so its initramfs has no virtio_blk or
# virtio_scsi: on a virtio disk it cannot reach its root), gzip initramfs;
# /etc/fstab by device name (/dev/sda1), the kernel's root= by UUID (as
# Debian's update-grub writes it: virt-v2v 2.2.0 remaps fstab but warns
# "could not determine a way to update the configuration of Grub2" and
# leaves a root=/dev/sda1 as it was); GRUB for
# BIOS on an MBR disk with one ext4 partition, console on ttyS0.  A systemd
# unit prints "vmimport-guest: up", then the root device and its driver and
# each NIC's driver ("vmimport-guest: root /dev/vda1 virtio_blk virtio-pci",
# "vmimport-guest: nic enp1s0 virtio_net"), and powers off.
#
# No loop device: the partition is made with mkfs.ext4 -d from the tree,
# put into the disk with dd, and GRUB is installed by the guest's own
# grub-install run in libguestfs's appliance.

VMI_GUEST_CACHE=${VMI_GUEST_CACHE:-/var/tmp}
GUEST_SIZE_MIB=1280

guest_mirror () {
  local m
  m=$(grep -hoE 'https?://[^ ]*/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n1)
  [ -n "$m" ] || m=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null)
  echo "${m:-http://deb.debian.org/debian}" | tr -d ' '
}

_guest_configure () {
  local root=$1
  cat > "$root/etc/initramfs-tools/initramfs.conf" <<'EOF'
MODULES=list
BUSYBOX=auto
COMPRESS=gzip
RESUME=none
EOF
  printf 'ahci\nsd_mod\next4\n' > "$root/etc/initramfs-tools/modules"
  printf '/dev/sda1 / ext4 errors=remount-ro 0 1\n' > "$root/etc/fstab"
  echo vmimport-guest > "$root/etc/hostname"
  cat > "$root/etc/default/grub" <<'EOF'
GRUB_DEFAULT=0
GRUB_TIMEOUT=0
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=ttyS0 panic=-1"
GRUB_DISABLE_OS_PROBER=true
GRUB_TERMINAL=serial
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
EOF
  cat > "$root/usr/local/sbin/vmimport-marker" <<'EOF'
#!/bin/sh
out=/dev/ttyS0
echo "vmimport-guest: up" > $out
dev=$(findmnt -no SOURCE /)
blk=$(basename "$dev"); blk=${blk%%[0-9]*}
d=$(readlink -f /sys/class/block/$blk/device)
drv=$(basename "$(readlink -f "$d/driver")")
ctl=none
while [ "$d" != /sys ] && [ "$d" != / ]; do
  case $(basename "$d") in
    0000:*) if [ -e "$d/driver" ]; then ctl=$(basename "$(readlink -f "$d/driver")"); break; fi ;;
  esac
  d=$(dirname "$d")
done
echo "vmimport-guest: root $dev $drv $ctl" > $out
for n in /sys/class/net/*; do
  [ -e "$n/device/driver" ] || continue
  echo "vmimport-guest: nic $(basename "$n") $(basename "$(readlink -f "$n/device/driver")")" > $out
done
echo "vmimport-guest: done" > $out
systemctl --no-block poweroff
EOF
  chmod +x "$root/usr/local/sbin/vmimport-marker"
  cat > "$root/etc/systemd/system/vmimport-marker.service" <<'EOF'
[Unit]
Description=vmimport test marker
After=local-fs.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/vmimport-marker
[Install]
WantedBy=multi-user.target
EOF
  ln -sf /etc/systemd/system/vmimport-marker.service \
    "$root/etc/systemd/system/multi-user.target.wants/vmimport-marker.service"
  # Boot faster under TCG: nothing waits for a network or a login.
  rm -f "$root"/etc/systemd/system/*.wants/systemd-networkd-wait-online.service \
        "$root"/etc/systemd/system/getty.target.wants/*
  # A smaller tree: modules no test VM uses, documentation, the .debs.
  local m
  m=$(echo "$root"/lib/modules/*)
  rm -rf "$m"/kernel/drivers/gpu "$m"/kernel/drivers/net/wireless \
         "$m"/kernel/drivers/media "$m"/kernel/sound \
         "$m"/kernel/drivers/infiniband "$m"/kernel/drivers/staging \
         "$m"/kernel/drivers/net/ethernet "$m"/kernel/drivers/bluetooth \
         "$m"/kernel/drivers/iio "$m"/kernel/drivers/hid \
         "$root"/usr/share/doc "$root"/usr/share/man "$root"/usr/share/locale \
         "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_Packages
  chroot "$root" depmod -a "$(basename "$m")"
  chroot "$root" update-initramfs -u -k all >/dev/null
}

_guest_build () {
  local out=$1 work root part start_s
  work=$(mktemp -d "$VMI_GUEST_CACHE/vmimport-guest-build.XXXXXX")
  root="$work/root"
  start_s=$(date +%s)
  echo "guest: debootstrap from $(guest_mirror) (a few minutes, once)" >&2
  if ! debootstrap --variant=minbase \
       --include=linux-image-amd64,initramfs-tools,grub-pc,systemd-sysv,udev,kmod \
       bookworm "$root" "$(guest_mirror)" > "$work/debootstrap.log" 2>&1; then
    tail -n 20 "$work/debootstrap.log" >&2; rm -rf "$work"; return 1
  fi
  _guest_configure "$root" || { rm -rf "$work"; return 1; }
  part="$work/part.img"
  truncate -s $(( (GUEST_SIZE_MIB - 1) * 1024 * 1024 )) "$part"
  mkfs.ext4 -q -F -L guestroot -d "$root" "$part" || { rm -rf "$work"; return 1; }
  truncate -s "${GUEST_SIZE_MIB}M" "$work/disk.raw"
  printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$work/disk.raw"
  dd if="$part" of="$work/disk.raw" bs=1M seek=1 conv=notrunc,sparse status=none
  rm -f "$part"
  # grub-install and update-grub of the guest itself, in the appliance:
  # the disk is /dev/sda there, as on the SATA controller.
  if ! LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg \
       guestfish -a "$work/disk.raw" -m /dev/sda1 \
         command "grub-install --target=i386-pc /dev/sda" : \
         command "update-grub" > "$work/grub.log" 2>&1; then
    cat "$work/grub.log" >&2; rm -rf "$work"; return 1
  fi
  mv "$work/disk.raw" "$out"
  rm -rf "$work"
  echo "guest: built $out in $(( $(date +%s) - start_s )) s" >&2
}

# The cache key: the recipe's code (not its comments) and the disk size.
GUEST_KEY=$( (declare -f _guest_configure _guest_build; echo "$GUEST_SIZE_MIB") \
             | sha256sum | cut -c1-16)
GUEST_IMAGE="$VMI_GUEST_CACHE/vmimport-test-guest-$GUEST_KEY.raw"

guest_image () {
  local fd r=0
  # One build at a time: tests/run.sh starts one early, in the background,
  # and a test that needs the image waits for it here.
  exec {fd}>"$GUEST_IMAGE.lock"
  flock "$fd"
  if [ ! -s "$GUEST_IMAGE" ]; then
    _guest_build "$GUEST_IMAGE" || r=1
  fi
  flock -u "$fd"
  exec {fd}>&-
  [ $r -eq 0 ] && echo "$GUEST_IMAGE"
}
