#!/usr/bin/env bash
# The Job's image recipe (Containerfile): its runtime stage installs the
# Debian package of every library vmimport links against, its build stage
# every -dev package scripts/deps.sh builds with, and it runs as a user
# that is not root.  (No container engine runs on these machines: the
# image itself is not built here.)
. "$VMI_SRC/tests/lib.sh"
CF=$S/Containerfile
runtime=$(awk '/^FROM debian:bookworm-slim/,0' "$CF")
build=$(awk '/^FROM debian:bookworm AS build/,/^FROM debian:bookworm-slim/' "$CF")
check every_needed_library_is_installed bash -c '
  for lib in $(readelf -d "'"$VMI"'" | sed -n "s/.*(NEEDED).*\[\(.*\)\]/\1/p"); do
    case $lib in libc.so*|libm.so*|ld-linux*) continue;; esac
    path=$(ldconfig -p | awk -v l="$lib" "\$1 == l && /x86-64/ {print \$NF; exit}")
    real=$(readlink -f "$path")
    pkg=$(dpkg -S "$real" "${real#/usr}" "/usr$real" 2>/dev/null | head -n 1 | cut -d: -f1)
    [ -n "$pkg" ] || { echo "no package owns $lib ($path)"; exit 1; }
    grep -qw -- "$pkg" <<< "$1" || { echo "$lib: package $pkg is not installed by the runtime stage"; exit 1; }
  done' _ "$runtime"
check build_stage_has_every_dev_package bash -c '
  for pkg in $(sed -n "/# build/,/# run/p" "'"$S"'/scripts/deps.sh" | tr " " "\n" | grep -- "-dev\$"); do
    grep -qw -- "$pkg" <<< "$1" || { echo "$pkg missing from the build stage"; exit 1; }
  done' _ "$build"
check runs_as_a_user_that_is_not_root bash -c "grep -Eq '^USER [1-9][0-9]*' '$CF' && ! grep -Eq '^USER (0|root)' '$CF'"
check job_uid_matches_the_image bash -c "grep -q '^USER 10001' '$CF' && grep -q 'define JOB_UID \"10001\"' '$S/tools/manifest-emit.c'"
finish
