#!/usr/bin/env bash
# Memory under 16 random readers: the daemon's peak RSS stays within the
# cache plus 48 MiB (README), on a default mount (64 MiB cache) of a
# streamOptimized VMDK (grains inflated on many threads) and of the same
# disk in an OVA over HTTP.  The cache's blocks live in one mapping of its
# size, so blocks freed and refilled by different threads do not pile up
# in malloc's per-thread arenas (a 64 MiB cache cost about 85 MiB before).
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/ova-lib.sh"
. "$VMI_SRC/tests/nginx.sh"

READERS=16
SECONDS_EACH=${MEMORY_READ_SECONDS:-8}
BOUND_KB=$(( (64 + 48) * 1024 ))
# 256 MiB of random bytes: four times the cache, so it churns.
head -c 256M /dev/urandom > "$T/r.raw"
W=$T/www
mkdir -p "$W"
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$T/r.raw" "$W/disk1.vmdk"
make_ovf "$W/vm.ovf" '{"name": "mem", "cpus": 1, "memory": [512, "byte * 2^20"], "disks": [{"href": "disk1.vmdk", "capacity": [256, "byte * 2^20"], "format": "vmdk", "bus": "scsi"}], "nics": []}'
make_ova "$W/vm.ova" "$W" ustar vm.ovf disk1.vmdk

cat > "$T/readers.py" <<'PY'
# N threads of random preads (4 KiB to 1 MiB) for S seconds; each read is
# checked against the reference.
import os, random, sys, threading, time
path, ref, n, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
size = os.path.getsize(ref)
bad = []
def run(seed):
    try:
        r = random.Random(seed); a = os.open(path, os.O_RDONLY); b = os.open(ref, os.O_RDONLY)
        end = time.time() + secs
        while time.time() < end and not bad:
            ln = r.choice([4096, 65536, 131072, 1 << 20])
            off = r.randrange(0, size - ln) // 512 * 512
            if os.pread(a, ln, off) != os.pread(b, ln, off):
                bad.append(f"differs at {off}")
    except OSError as e:
        bad.append(str(e))
ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
[t.start() for t in ts]; [t.join() for t in ts]
sys.exit(bad[0] if bad else 0)
PY

# The test's ASan keeps its quarantine small (as mount-local.sh), and
# meson's MALLOC_PERTURB_ (which touches every page malloc hands out) is off.
export MALLOC_PERTURB_=0
export ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=1:malloc_context_size=2:allocator_release_to_os_interval_ms=500"
readers_case () {   # NAME SOURCE
  local name=$1 src=$2 pid
  mkdir -p "$T/$name"
  check "${name}_mounts" mount_fs "$src" "$T/$name"
  pid=$(pgrep -n -f -- "$VMIFS -f $src $T/$name")
  check "${name}_${READERS}_random_readers_read_right" \
    python3 "$T/readers.py" "$(ls -d "$T/$name"/*/disk-0.img)" "$T/r.raw" $READERS $SECONDS_EACH
  check "${name}_peak_rss_within_cache_plus_48m" bash -c "
    hwm=\$(awk '/VmHWM/ {print \$2}' /proc/$pid/status); echo \"peak RSS \${hwm} kB, bound $BOUND_KB kB\"
    [ \"\$hwm\" -le $BOUND_KB ]"
  grep -h "peak RSS" "$T/check.out" || true
  unmount_fs "$T/$name"
}
readers_case local "$W/disk1.vmdk"
nginx_start "$W"
readers_case http "$NGINX_URL/vm.ova"
finish
