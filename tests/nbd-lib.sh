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

