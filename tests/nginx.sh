# A private nginx for integration tests.  Source it after lib.sh:
#   . "$VMI_SRC/tests/nginx.sh"
#   nginx_start DOCROOT [--tls CERT KEY] [--auth HTPASSWD] [--no-ranges]
#                       [--limit-rate RATE] [--no-head]
#                       [--req-limit RATE STATUS]  (e.g. 10r/s 503: requests
#                        over RATE are answered with STATUS at once)
# sets NGINX_PORT (a free port on 127.0.0.1), NGINX_URL (http(s)://127.0.0.1:PORT)
# and NGINX_LOG (the access log: "METHOD URI PROTO" "RANGE" STATUS BYTES_SENT
# per line; emptied by nginx_start) and NGINX_CONN_LOG (the connection
# serial number and the range of each request).  nginx_stop stops it (also done at
# exit); nginx_restart stops it and starts it again on the same port with the
# same settings, keeping the log.  Calling nginx_start again after nginx_stop
# reuses the port with new settings.
# Helpers: nginx_bytes_sent (sum of $bytes_sent in the log), nginx_log_clear,
# nginx_make_ca DIR (ca.crt, server.crt, server.key for 127.0.0.1),
# nginx_htpasswd FILE USER PASSWORD_FILE.
NGINX_PORT=
NGINX_URL=
NGINX_LOG=
NGINX_CONN_LOG=
_nginx_dir=
_nginx_started=0

nginx_start () {
  local root=$1; shift
  local tls= cert= key= auth= ranges= rate= nohead= reqrate= reqstatus= zone=
  while [ $# -gt 0 ]; do
    case $1 in
      --tls) tls=1; cert=$2; key=$3; shift 3 ;;
      --auth) auth=$2; shift 2 ;;
      --no-ranges) ranges=1; shift ;;
      --limit-rate) rate=$2; shift 2 ;;
      --no-head) nohead=1; shift ;;
      --req-limit) reqrate=$2; reqstatus=$3; shift 3 ;;
      *) echo "nginx_start: unknown option $1" >&2; return 2 ;;
    esac
  done
  [ -n "$NGINX_PORT" ] || NGINX_PORT=$(free_port)
  _nginx_dir="$T/nginx-$NGINX_PORT"
  mkdir -p "$_nginx_dir/tmp"
  NGINX_LOG="$_nginx_dir/access.log"
  NGINX_CONN_LOG="$_nginx_dir/conn.log"
  : > "$NGINX_LOG"
  : > "$NGINX_CONN_LOG"
  local scheme=http listen="127.0.0.1:$NGINX_PORT" extra=
  if [ -n "$tls" ]; then
    scheme=https; listen="$listen ssl"
    extra+="ssl_certificate $cert; ssl_certificate_key $key;"$'\n'
  fi
  [ -n "$auth" ] && extra+="auth_basic \"vmimport test\"; auth_basic_user_file $auth;"$'\n'
  [ -n "$ranges" ] && extra+="max_ranges 0;"$'\n'
  [ -n "$rate" ] && extra+="limit_rate $rate;"$'\n'
  if [ -n "$reqrate" ]; then
    zone="limit_req_zone \$server_port zone=vmi:1m rate=$reqrate;"
    extra+="limit_req zone=vmi; limit_req_status $reqstatus;"$'\n'
  fi
  [ -n "$nohead" ] && extra+="if (\$request_method = HEAD) { return 405; }"$'\n'
  local user=
  [ "$(id -u)" = 0 ] && user="user root;"
  cat > "$_nginx_dir/nginx.conf" <<EOF
$user
worker_processes 2;
daemon on;
pid $_nginx_dir/nginx.pid;
error_log $_nginx_dir/error.log warn;
events { worker_connections 512; }
http {
  log_format vmi '"\$request" "\$http_range" \$status \$bytes_sent';
  access_log $NGINX_LOG vmi;
  log_format vmiconn '\$connection "\$http_range"';
  access_log $NGINX_CONN_LOG vmiconn;
  client_body_temp_path $_nginx_dir/tmp/body;
  proxy_temp_path $_nginx_dir/tmp/proxy;
  fastcgi_temp_path $_nginx_dir/tmp/fastcgi;
  uwsgi_temp_path $_nginx_dir/tmp/uwsgi;
  scgi_temp_path $_nginx_dir/tmp/scgi;
  default_type application/octet-stream;
  $zone
  sendfile on;
  keepalive_requests 100000;
  keepalive_timeout 60s;
  server {
    listen $listen;
    server_name 127.0.0.1;
    root $root;
    $extra
  }
}
EOF
  nginx -e "$_nginx_dir/error.log" -p "$_nginx_dir" -c "$_nginx_dir/nginx.conf" \
    || { cat "$_nginx_dir/error.log" >&2; return 1; }
  if [ "$_nginx_started" = 0 ]; then
    at_exit nginx_stop
    _nginx_started=1
  fi
  NGINX_URL="$scheme://127.0.0.1:$NGINX_PORT"
  local i
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$NGINX_PORT") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "nginx did not start on port $NGINX_PORT" >&2
  cat "$_nginx_dir/error.log" >&2
  return 1
}

nginx_stop () {
  local pidf="$_nginx_dir/nginx.pid" pid i
  [ -n "$_nginx_dir" ] && [ -f "$pidf" ] || return 0
  pid=$(cat "$pidf")
  kill "$pid" 2>/dev/null
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidf"; return 0; }
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null
  rm -f "$pidf"
}

# Start again with the same configuration and port.
nginx_restart () {
  nginx_stop
  nginx -e "$_nginx_dir/error.log" -p "$_nginx_dir" -c "$_nginx_dir/nginx.conf" \
    || { cat "$_nginx_dir/error.log" >&2; return 1; }
  local i
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$NGINX_PORT") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

# Sum of $bytes_sent over the access log.
nginx_bytes_sent () {
  awk '{ s += $NF } END { print s + 0 }' "$NGINX_LOG"
}

nginx_log_clear () {
  : > "$NGINX_LOG"
  : > "$NGINX_CONN_LOG"
}

# A CA and a server certificate for 127.0.0.1 signed by it, in DIR.
nginx_make_ca () {
  local d=$1
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=vmimport test CA" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null || return 1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null || return 1
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' > "$d/ext.cnf"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
    -CAcreateserial -days 2 -extfile "$d/ext.cnf" -out "$d/server.crt" 2>/dev/null
}

# nginx_htpasswd FILE USER PASSWORD_FILE (the password never goes on argv).
nginx_htpasswd () {
  local hash
  hash=$(openssl passwd -apr1 -stdin < "$3") || return 1
  printf '%s:%s\n' "$2" "$hash" > "$1"
}
