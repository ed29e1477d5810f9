#!/usr/bin/env bash
# vmimport: bad input gets a clear message and the right exit code
# (0 done, 1 source, 2 usage, 3 destination), and DST is left untouched.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/cli-lib.sh"

R=$T/src.raw
make_ext4 "$R" 64M
SIZE=$(stat -c %s "$R")

# expect NAME CODE REGEX CMD...: exit code and message.
expect () {
  local name=$1 want=$2 regex=$3 rc; shift 3
  rc=$(run_rc "$@")
  check "$name" bash -c "
    [ $rc -eq $want ] || { echo 'exit $rc, expected $want'; cat '$T/err'; exit 1; }
    grep -Eq -- '$regex' '$T/err' || { echo 'message does not match /$regex/:'; cat '$T/err'; exit 1; }"
}

check version_prints bash -c "'$VMI' --version | grep -Eq '^vmimport [0-9]+\.[0-9]+'"
for c in ls inspect copy verify; do
  check "help_${c}_exits_0" bash -c "'$VMI' $c --help | grep -q 'Usage: vmimport $c'"
done
expect no_command_is_usage 2 'Usage' "$VMI"
# --source-file with --vm or --allow-outside-paths: the source file's
# options are merged with the caller's, then freed, and the caller's
# strings with them (a double free, an ASan abort, before the fix).
qemu-img create -q -f raw "$T/not-an-ova.raw" 1M
printf 'kind: OvaSource\nmetadata:\n  name: x\nspec:\n  url: %s\n' "$T/not-an-ova.raw" > "$T/src.yaml"
expect source_file_with_vm_fails_cleanly 1 'no .ovf descriptor' \
  "$VMI" copy --source-file "$T/src.yaml" --vm x "$T/never.raw"
expect source_file_with_allow_outside_paths_fails_cleanly 1 'no .ovf descriptor' \
  "$VMI" ls --allow-outside-paths --source-file "$T/src.yaml"
expect unknown_command_is_usage 2 'unknown command .frob.' "$VMI" frob
expect unknown_option_is_usage 2 'unrecognized option|Usage' "$VMI" ls --frob "$R"

expect unknown_scheme_exits_2 2 'unknown source scheme' "$VMI" copy 'ftp://host/x.vmdk' "$T/never.out"
check unknown_scheme_dst_not_created test ! -e "$T/never.out"
expect missing_source_exits_1 1 'No such file' "$VMI" copy "$T/nope.img" "$T/never.out"
expect missing_disk_index_exits_2 2 'has no disk 3' "$VMI" copy "$R" --disk 3 "$T/never.out"
check missing_disk_dst_not_created test ! -e "$T/never.out"
mkdir -p "$T/two" && cp --sparse=always "$R" "$T/two/a.img" && cp --sparse=always "$R" "$T/two/b.img"
expect several_vms_need_vm_exits_2 2 'choose one with --vm' "$VMI" copy "$T/two" "$T/never.out"
expect unknown_vm_exits_2 2 'no VM named .zz.' "$VMI" copy "$T/two" --vm zz "$T/never.out"
expect password_on_argv_refused 2 'never taken on the command line' "$VMI" ls --password secret "$R"
expect missing_password_file_is_usage 2 'password file' "$VMI" ls --password-file "$T/no-such-file" "$R"

# An archive with two members of one name (tar -r appends; GNU tar would
# extract the last): refused, naming the member.
mkdir -p "$T/dup"
echo '<Envelope/>' > "$T/dup/vm.ovf"
tar -C "$T/dup" -cf "$T/dup.ova" vm.ovf
echo '<Envelope><!-- other --></Envelope>' > "$T/dup/vm.ovf"
tar -C "$T/dup" -rf "$T/dup.ova" vm.ovf
expect duplicate_tar_member_refused 1 'two members named vm.ovf' "$VMI" ls "$T/dup.ova"

# A file of /proc says it is regular: refused as what it is, not for space.
expect proc_file_dst_refused 3 'neither a regular file nor a block device' "$VMI" copy "$R" /proc/version

sum_r=$(sha256sum < "$R")
expect same_file_refused_even_with_force 2 'are the same file' "$VMI" copy --force "$R" "$R"
check same_file_untouched bash -c "[ \"\$(sha256sum < '$R')\" = '$sum_r' ]"
expect dst_directory_exits_3 3 'is a directory' "$VMI" copy "$R" "$T"
# A non-empty file is not overwritten without --force.
head -c 1M /dev/urandom > "$T/busy.out"
sum=$(sha256sum < "$T/busy.out")
expect nonempty_dst_exits_3 3 'not empty.*--force' "$VMI" copy "$R" "$T/busy.out"
check nonempty_dst_untouched bash -c "[ \"\$(sha256sum < '$T/busy.out')\" = '$sum' ]"
# A device smaller than the disk: refused before any byte is written.
fill_ff "$T/small.dev" $((SIZE / 2))
cp "$T/small.dev" "$T/small.ref"
make_loop "$T/small.dev"
expect dst_too_small_exits_3 3 'too small.*nothing was written' "$VMI" copy "$R" "$LOOP"
check dst_too_small_untouched cmp "$T/small.ref" "$LOOP"
# --resume without an earlier copy: a fresh copy, said so (as rsync
# --partial).
expect resume_without_state_starts_fresh 0 'no copy state at .*starting a fresh copy' "$VMI" copy --quiet --resume "$R" "$T/fresh.out"
check resume_without_state_copies cmp "$R" "$T/fresh.out"
# A mounted device is refused (needs mount(8) to work here).
truncate -s $((SIZE + (1 << 20))) "$T/mnt.dev"
mkfs.ext4 -q -F "$T/mnt.dev"
make_loop "$T/mnt.dev"
mkdir -p "$T/mnt"
if mount "$LOOP" "$T/mnt" 2>/dev/null; then
  at_exit "umount '$T/mnt'"
  expect mounted_dst_exits_3 3 'mounted on' "$VMI" copy "$R" "$LOOP"
  umount "$T/mnt"
else
  echo "skip mounted_dst_exits_3: cannot mount here"
fi
expect verify_needs_a_source 2 'exactly one SOURCE' "$VMI" verify
expect verify_missing_file_exits_1 1 '.' "$VMI" verify "$T/nothing.ova"
expect ls_missing_source_exits_1 1 'No such file' "$VMI" ls "$T/nothing.img"
expect inspect_unknown_scheme_exits_2 2 'unknown source scheme' "$VMI" inspect 'gopher://x/y'
# A read error in the middle (a QCOW2 cluster pointing past the end of the
# file at 44 MiB): non-zero exit naming the offset; what was copied is kept.
if ! grep -q '^/\* STUB' "$S/convert/qcow2.c"; then
  truncate -s 64M "$T/c.raw"
  head -c 8M /dev/urandom | dd of="$T/c.raw" bs=1M conv=notrunc status=none
  head -c 8M /dev/urandom | dd of="$T/c.raw" bs=1M seek=40 conv=notrunc status=none
  qemu-img convert -f raw -O qcow2 "$T/c.raw" "$T/bad.qcow2"
  python3 - "$T/bad.qcow2" $((44 << 20)) <<'PY'
import struct, sys
path, off = sys.argv[1], int(sys.argv[2])
f = open(path, "r+b")
h = f.read(72)
cs = 1 << struct.unpack(">I", h[20:24])[0]
l1_off = struct.unpack(">Q", h[40:48])[0]
n = cs // 8
f.seek(l1_off + 8 * (off // cs // n))
l2 = struct.unpack(">Q", f.read(8))[0] & 0x00fffffffffffe00
f.seek(l2 + 8 * (off // cs % n))
assert struct.unpack(">Q", f.read(8))[0] & 0x00fffffffffffe00
f.seek(l2 + 8 * (off // cs % n))
f.write(struct.pack(">Q", (1 << 63) | (1 << 40)))   # far past the end
PY
  expect read_error_mid_copy_exits_1_naming_offset 1 'offset 46137344' \
    "$VMI" copy --quiet --jobs 1 "$T/bad.qcow2" "$T/bad.out"
  check read_error_keeps_what_was_copied cmp -n $((8 << 20)) "$T/c.raw" "$T/bad.out"
  check read_error_keeps_resume_state test -s "$T/bad.out.vmimport-state"
else
  echo "skip read_error_mid_copy: the QCOW2 layer is not in this build"
fi
finish
