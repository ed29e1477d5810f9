#!/usr/bin/env bash
# Install the Debian 12 packages vmimport needs to build and test.
set -eu
pkgs=(
  # build
  gcc clang meson ninja-build pkg-config
  libfuse3-dev libcurl4-openssl-dev libxml2-dev libjson-c-dev libssl-dev
  zlib1g-dev libdeflate-dev libzstd-dev libnbd-dev libblkid-dev libyaml-dev
  libmicrohttpd-dev
  # run
  fuse3
  # tests: fixtures, reference tools, servers
  qemu-utils e2fsprogs dosfstools xfsprogs fdisk gdisk util-linux ntfs-3g
  nginx nbdkit python3 openssl tar
  libclang-rt-14-dev time curl strace
  # tests: the man pages (man --warnings)
  man-db groff-base
  # tests: the vCenter simulator (tests/vcsim) is built from these
  golang-go golang-github-vmware-govmomi-dev
  # tests: manifests against the schemas; the imported disk boots
  python3-yaml python3-jsonschema python3-kubernetes qemu-system-x86 ovmf busybox-static cpio
  linux-image-amd64 syslinux syslinux-common mtools grub-efi-amd64-bin
  grub-common
)
export DEBIAN_FRONTEND=noninteractive
if ! dpkg -s "${pkgs[@]}" >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi
