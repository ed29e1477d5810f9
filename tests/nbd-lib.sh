# Helpers for the NBD tests (sourced after tests/lib.sh).
# start_nbdkit NAME ARGS...: nbdkit in the foreground (killed at exit) on
# the Unix socket $T/NAME.sock, or on 127.0.0.1 when NAME ends in "-tcp"
# (the port is left in $T/NAME.port).  Waits until it accepts connections.
start_nbdkit () {
  local name=$1 where i; shift
  rm -f "$T/$name.pid"
  if [[ $name == *-tcp ]]; then
    local port; port=$(free_port); echo "$port" > "$T/$name.port"
    where=(-i 127.0.0.1 -p "$port")
  else
    rm -f "$T/$name.sock"; where=(-U "$T/$name.sock")
  fi
  nbdkit -f --exit-with-parent -P "$T/$name.pid" "${where[@]}" "$@" \
    2>>"$T/nbdkit-$name.log" &
  at_exit "kill $!"
  for i in $(seq 1 100); do
    [ -s "$T/$name.pid" ] && return 0
    sleep 0.05
  done
  echo "nbdkit $name did not start" >&2; cat "$T/nbdkit-$name.log" >&2; return 1
}
stop_nbdkit () {
  local pid; pid=$(cat "$T/$1.pid"); kill "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}
unix_uri () { echo "nbd+unix:///?socket=$T/$1.sock"; }
tcp_uri () { echo "nbd://127.0.0.1:$(cat "$T/$1.port")/"; }

# reads_through_a_drop IMAGE SEED OUT: 400 random reads of IMAGE from 8
# threads (layer-tool, output in OUT) against a server (20 ms per read) that
# is killed part way and started again on the same socket.  The kill waits
# for the server's log to show 50 reads, not for a time: on a loaded
# machine the reader may start late, or finish before a fixed delay.
# Returns the reader's exit status.
reads_through_a_drop () {
  local img=$1 seed=$2 out=$3 reader i
  _drop_server () {
    start_nbdkit drop --filter=log --filter=delay file "$img" \
      delay-read=20ms logfile="$T/drop-requests.log"
  }
  _drop_server
  VMI_LOG_LEVEL=2 "$LT" random "$(unix_uri drop)" "$img" 400 8 "$seed" > "$out" 2>&1 &
  reader=$!
  for i in $(seq 1 600); do
    [ "$(grep -c ' Read ' "$T/drop-requests.log" 2>/dev/null)" -ge 50 ] && break
    sleep 0.05
  done
  echo "reads_through_a_drop: killing the server after $i polls" >&2
  kill -9 "$(cat "$T/drop.pid")"
  sleep 0.5
  _drop_server
  wait "$reader"
}
