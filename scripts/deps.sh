#!/usr/bin/env bash
# Install the Debian 12 packages vmimport needs to build and test.
set -eu
pkgs=(
  # build
  gcc clang meson ninja-build pkg-config
  libfuse3-dev libcurl4-openssl-dev libxml2-dev libjson-c-dev libssl-dev
  zlib1g-dev libdeflate-dev libzstd-dev libnbd-dev libblkid-dev libyaml-dev
  libmicrohttpd-dev libguestfs-dev
  # run
  fuse3
  # tests: fixtures, reference tools, servers
  qemu-utils e2fsprogs dosfstools xfsprogs fdisk gdisk util-linux ntfs-3g
  nginx nbdkit python3 openssl tar
  libclang-rt-14-dev time curl strace
  # tests: the man pages (man --warnings)
  man-db groff-base
  # tests/openstack: Debian's OpenStack services (Zed) as the test peer
  keystone glance-api cinder-api cinder-scheduler cinder-volume
  python3-nova nova-api nova-conductor nova-scheduler placement-api
  rabbitmq-server uwsgi-core uwsgi-plugin-python3 nfs-common python3-requests
  neutron-server mariadb-server python3-pymysql
  # guest inspection and conversion, the test guest
  virt-v2v guestfs-tools guestfish debootstrap
  # tests: the vCenter simulator (tests/vcsim) is built from these
  golang-go golang-github-vmware-govmomi-dev
  # tests: manifests against the schemas; the imported disk boots
  python3-yaml python3-jsonschema python3-kubernetes qemu-system-x86 ovmf busybox-static cpio
  linux-image-amd64 syslinux syslinux-common mtools grub-efi-amd64-bin
  grub-common
)
export DEBIAN_FRONTEND=noninteractive
if ! dpkg -s "${pkgs[@]}" >/dev/null 2>&1; then
  # Packages' postinst must not start services (RabbitMQ, Keystone...) on
  # all addresses: the tests start their own on 127.0.0.1.
  made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt-get -o DPkg::Lock::Timeout=900 update -qq
  apt-get -o DPkg::Lock::Timeout=900 install -y -qq "${pkgs[@]}" >/dev/null
  [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
fi
