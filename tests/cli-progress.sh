#!/usr/bin/env bash
# vmimport copy progress: a bar on a terminal (under script(1), a
# pseudo-terminal), JSON lines when piped, nothing with --quiet.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/cli-lib.sh"

R=$T/src.raw
make_ext4 "$R" 64M

script -qec "'$VMI' copy '$R' '$T/tty.out'" /dev/null > "$T/tty.txt"
check terminal_shows_a_bar bash -c "grep -a -q '\[#*' '$T/tty.txt' && grep -a -q '100%' '$T/tty.txt' && grep -a -q 'MiB/s' '$T/tty.txt'"
check terminal_output_is_not_json bash -c "! grep -a -q '\"done\"' '$T/tty.txt'"
check terminal_copy_matches cmp "$R" "$T/tty.out"

"$VMI" copy "$R" "$T/pipe.out" | cat > "$T/pipe.txt"
check piped_lines_are_json bash -c "
  [ -s '$T/pipe.txt' ] && while IFS= read -r l; do printf '%s' \"\$l\" | python3 -m json.tool >/dev/null || exit 1; done < '$T/pipe.txt'"
check piped_json_has_done_total_rate python3 - "$T/pipe.txt" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
for j in lines:
    assert {"done", "total", "rate"} <= j.keys(), j
assert lines[-1]["status"] == "done" and lines[-1]["done"] == lines[-1]["total"], lines[-1]
PY

"$VMI" copy --quiet "$R" "$T/quiet.out" > "$T/quiet.txt" 2>&1
check quiet_prints_nothing test ! -s "$T/quiet.txt"
finish
