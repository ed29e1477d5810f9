#!/usr/bin/env bash
# The OpenStack test peer: Debian 12's real services (Zed) on 127.0.0.1.
#
#   peer.sh start STATE   start keystone (HTTPS), glance-api, placement-api,
#                         nova-api/-conductor/-scheduler/-compute (fake
#                         driver), cinder-api/-scheduler/-volume (NFS driver
#                         on a bind-mounted local folder), neutron-server
#                         (ML2, no agents), rabbitmq-server and mariadbd;
#                         writes STATE/env (ports, URLs, passwords)
#   peer.sh stop STATE    stop them all (OpenStack daemons before RabbitMQ
#                         and MariaDB)
#
# Installs nothing (scripts/deps.sh does).  No systemd: every daemon is a
# plain process (uwsgi_python3 --http(s)-socket for the WSGI-only ones).
# Databases are MariaDB's (its files in STATE/mysql, its socket in
# STATE/run, a TCP port on 127.0.0.1), set up once: a re-run with the same
# STATE only starts the daemons.  Ports are chosen at
# setup and kept in STATE/env; if one is taken on a re-run, STATE is rebuilt.
set -eu
cmd=${1:?usage: peer.sh start|stop STATE}
ST=${2:?usage: peer.sh start|stop STATE}
HERE=$(cd "$(dirname "$0")" && pwd)
export VMI_OS_STATE=$ST
SETUP_VERSION=6     # bump when the set-up below changes

log () { echo "peer: $*" >&2; }

free_port () {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port_busy () {
  python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1",int(sys.argv[1])))' "$1" 2>/dev/null && return 1 || return 0
}

# ---- stop ------------------------------------------------------------------
stop_one () {   # stop_one NAME: TERM, wait, KILL
  local f="$ST/run/$1.pid" pid i
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}
stop_all () {
  local n pid i
  for n in nova-compute nova-conductor nova-scheduler nova-api placement neutron-server neutron-stub \
           cinder-volume cinder-scheduler cinder-api glance-api keystone; do
    stop_one "$n" &
  done
  wait
  if [ -f "$ST/run/rabbitmq.pid" ]; then
    # shellcheck disable=SC1091
    . "$ST/rabbit.env"
    /usr/lib/rabbitmq/bin/rabbitmqctl -n "$RABBITMQ_NODENAME" stop >/dev/null 2>&1 || true
    stop_one rabbitmq
  fi
  [ -f "$ST/run/epmd.pid" ] && stop_one epmd
  if [ -f "$ST/run/mariadb.pid" ]; then   # a clean shutdown: up to 30 s
    pid=$(cat "$ST/run/mariadb.pid")
    kill -TERM -- "-$pid" 2>/dev/null || true
    # (ps, not kill -0: an exited daemon nobody reaped yet is a zombie)
    for i in $(seq 1 300); do
      case $(ps -o stat= -p "$pid" 2>/dev/null) in ''|Z*) break ;; esac
      sleep 0.1
    done
    stop_one mariadb
  fi
  # An epmd the broker started by itself (-daemon) on our port, if any.
  if [ -f "$ST/env" ]; then
    # shellcheck disable=SC1091
    . "$ST/env"
    epmd -port "$EPMD_PORT" -kill >/dev/null 2>&1 || true
  fi
  if [ -f "$ST/env" ]; then
    # shellcheck disable=SC1091
    . "$ST/env"
    mountpoint -q "$OS_NFS_MNT" && umount "$OS_NFS_MNT"
  fi
  return 0
}
if [ "$cmd" = stop ]; then
  stop_all
  exit 0
fi
[ "$cmd" = start ] || { echo "usage: peer.sh start|stop STATE" >&2; exit 2; }
# Daemons of an earlier run that was not stopped (killed test): stop them.
[ -d "$ST/run" ] && stop_all

# ---- ports and passwords (kept across runs) ---------------------------------
mkdir -p "$ST"
if [ -f "$ST/env" ] && [ "$(cat "$ST/version" 2>/dev/null)" = "$SETUP_VERSION" ]; then
  # shellcheck disable=SC1091
  . "$ST/env"
  for p in $KS_PORT $GL_PORT $CI_PORT $NO_PORT $PL_PORT $NE_PORT $RB_PORT $RB_DIST $EPMD_PORT $MY_PORT; do
    if port_busy "$p"; then
      log "port $p is taken: setting up again"
      stop_all
      rm -rf "${ST:?}"/*
      break
    fi
  done
fi
fresh=0
[ "$(cat "$ST/version" 2>/dev/null)" = "$SETUP_VERSION" ] || rm -f "$ST/env"
if [ ! -f "$ST/env" ]; then
  fresh=1
  rm -rf "${ST:?}"/*
  mkdir -p "$ST"
  pw () { openssl rand -hex 12; }
  cat >"$ST/env" <<EOF
KS_PORT=$(free_port)
GL_PORT=$(free_port)
CI_PORT=$(free_port)
NO_PORT=$(free_port)
PL_PORT=$(free_port)
NE_PORT=$(free_port)
RB_PORT=$(free_port)
RB_DIST=$(free_port)
EPMD_PORT=$(free_port)
MY_PORT=$(free_port)
DB_PW=$(pw)
ADMIN_PW=$(pw)
SERVICE_PW=$(pw)
DEMO_PW=$(pw)
OS_NFS_DATA=$ST/nfs-data
OS_NFS_MNT=$ST/cinder-mnt/$(printf '%s' 127.0.0.1:/vmi-nfs | md5sum | cut -c1-32)
OS_CA=$ST/tls/ca.pem
EOF
  # shellcheck disable=SC1091
  . "$ST/env"
  cat >>"$ST/env" <<EOF
OS_AUTH_URL=https://127.0.0.1:$KS_PORT/v3
EOF
fi
# shellcheck disable=SC1091
. "$ST/env"
mkdir -p "$ST/run" "$ST/log" "$ST/db" "$ST/etc" "$ST/lock" "$ST/tls" \
  "$ST/glance-images" "$ST/nova" "$ST/cinder" "$OS_NFS_DATA" "$OS_NFS_MNT"
KS=https://127.0.0.1:$KS_PORT
TRANSPORT=rabbit://guest:guest@127.0.0.1:$RB_PORT/

# ---- TLS for Keystone: our own CA --------------------------------------------
if [ ! -f "$ST/tls/server.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=vmi-test-ca \
    -keyout "$ST/tls/ca.key" -out "$ST/tls/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
    -keyout "$ST/tls/server.key" -out "$ST/tls/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$ST/tls/ext"
  openssl x509 -req -in "$ST/tls/server.csr" -CA "$ST/tls/ca.pem" \
    -CAkey "$ST/tls/ca.key" -CAcreateserial -days 30 \
    -extfile "$ST/tls/ext" -out "$ST/tls/server.pem" 2>/dev/null
fi
# The services talk to Keystone over TLS too: they trust our CA.
BUNDLE=$ST/tls/bundle.pem
cat /etc/ssl/certs/ca-certificates.crt "$ST/tls/ca.pem" >"$BUNDLE"
export REQUESTS_CA_BUNDLE=$BUNDLE OS_CACERT=$BUNDLE

# ---- configuration files -----------------------------------------------------
authtoken () {  # authtoken USER
  cat <<EOF
[keystone_authtoken]
www_authenticate_uri = $KS
auth_url = $KS
cafile = $BUNDLE
memcached_servers =
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $SERVICE_PW
service_token_roles_required = true
# Validations are cached 5 s (default 300): a token Keystone revoked is
# refused soon after (the token-revocation check).
token_cache_time = 5
EOF
}
svc_auth () {  # svc_auth SECTION USER
  cat <<EOF
[$1]
auth_type = password
auth_url = $KS
cafile = $BUNDLE
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $2
password = $SERVICE_PW
region_name = RegionOne
EOF
}
# MariaDB, as real clouds have it: with sqlite files the services' writes
# at once failed now and then with "database is locked" (WAL's busy
# snapshot, which no busy timeout helps), leaving objects "creating" or
# "deleting" for good.
db () { echo "mysql+pymysql://vmi:$DB_PW@127.0.0.1:$MY_PORT/$1?charset=utf8"; }

mkdir -p "$ST/etc/keystone" "$ST/etc/glance" "$ST/etc/cinder" "$ST/etc/nova" "$ST/etc/placement"
cat >"$ST/etc/keystone/keystone.conf" <<EOF
[DEFAULT]
log_file = $ST/log/keystone-app.log
[database]
connection = $(db keystone)
[token]
provider = fernet
expiration = 3600
[fernet_tokens]
key_repository = $ST/keystone-fernet
[fernet_receipts]
key_repository = $ST/keystone-fernet
[credential]
key_repository = $ST/keystone-credential
[cache]
enabled = false
EOF

cat >"$ST/etc/glance/glance-api.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $GL_PORT
workers = 1
log_file = $ST/log/glance-api.log
enabled_backends = fs:file
# Pages of 2 images ("next"): vmimport cleanup must page.
api_limit_max = 2
limit_param_default = 2
[database]
connection = $(db glance)
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $ST/glance-images
[os_glance_staging_store]
filesystem_store_datadir = $ST/glance-staging
[os_glance_tasks_store]
filesystem_store_datadir = $ST/glance-tasks
[paste_deploy]
flavor = keystone
config_file = /etc/glance/glance-api-paste.ini
[oslo_concurrency]
lock_path = $ST/lock
$(authtoken glance)
EOF
mkdir -p "$ST/glance-staging" "$ST/glance-tasks"

printf '127.0.0.1:/vmi-nfs\n' >"$ST/etc/cinder/nfs_shares"
cat >"$ST/etc/cinder/cinder.conf" <<EOF
[DEFAULT]
osapi_volume_listen = 127.0.0.1
osapi_volume_listen_port = $CI_PORT
osapi_volume_workers = 1
transport_url = $TRANSPORT
auth_strategy = keystone
enabled_backends = nfs
state_path = $ST/cinder
image_conversion_dir = $ST/cinder/conversion
glance_api_servers = http://127.0.0.1:$GL_PORT
api_paste_config = /etc/cinder/api-paste.ini
rootwrap_config = /etc/cinder/rootwrap.conf
my_ip = 127.0.0.1
host = vmi-cinder
log_dir = $ST/log
enable_force_upload = false
# Pages of 2 volumes / snapshots (volumes_links), as Nova's servers.
osapi_max_limit = 2
allowed_direct_url_schemes =
[database]
connection = $(db cinder)
[oslo_concurrency]
lock_path = $ST/lock
[nfs]
volume_driver = cinder.volume.drivers.nfs.NfsDriver
volume_backend_name = nfs
nfs_shares_config = $ST/etc/cinder/nfs_shares
nfs_mount_point_base = $ST/cinder-mnt
nfs_snapshot_support = true
nfs_sparsed_volumes = true
nas_secure_file_operations = false
nas_secure_file_permissions = false
$(authtoken cinder)
$(svc_auth nova cinder)
interface = public
[service_user]
send_service_user_token = true
auth_type = password
auth_url = $KS
cafile = $BUNDLE
project_domain_name = Default
user_domain_name = Default
project_name = service
username = cinder
password = $SERVICE_PW
EOF

cat >"$ST/etc/placement/placement.conf" <<EOF
[placement_database]
connection = $(db placement)
[api]
auth_strategy = keystone
$(authtoken placement)
EOF

cat >"$ST/etc/nova/nova.conf" <<EOF
[DEFAULT]
transport_url = $TRANSPORT
compute_driver = vmi_fake_driver.Driver
my_ip = 127.0.0.1
host = vmi-compute
state_path = $ST/nova
instances_path = $ST/nova/instances
enabled_apis = osapi_compute
osapi_compute_listen = 127.0.0.1
osapi_compute_listen_port = $NO_PORT
osapi_compute_workers = 1
log_dir = $ST/log
[api]
auth_strategy = keystone
# Pages of 2 servers: the fixtures (5 servers) need several, so the test
# shows that the inventory follows servers_links.
max_limit = 2
[api_database]
connection = $(db nova_api)
[database]
connection = $(db nova)
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = -1
[wsgi]
api_paste_config = /etc/nova/api-paste.ini
[oslo_concurrency]
lock_path = $ST/lock
[vnc]
enabled = false
[glance]
cafile = $BUNDLE
[cinder]
os_region_name = RegionOne
cafile = $BUNDLE
auth_type = password
auth_url = $KS
project_domain_name = Default
user_domain_name = Default
project_name = service
username = nova
password = $SERVICE_PW
$(authtoken nova)
$(svc_auth placement nova)
$(svc_auth neutron nova)
$(svc_auth service_user nova)
send_service_user_token = true
EOF

# Neutron: ML2, no agents; vmi_ml2_driver.py binds every port (they stay
# DOWN).  Its Keystone user is nova's (same service project and roles), so
# that a peer set up before Neutron was added needs no new set-up.
mkdir -p "$ST/etc/neutron" "$ST/neutron"
cat >"$ST/etc/neutron/neutron.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $NE_PORT
core_plugin = ml2
service_plugins =
auth_strategy = keystone
transport_url = $TRANSPORT
api_workers = 0
rpc_workers = 0
rpc_state_report_workers = 0
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
state_path = $ST/neutron
log_file = $ST/log/neutron-server.log
api_paste_config = /etc/neutron/api-paste.ini
[database]
connection = $(db neutron)
[oslo_concurrency]
lock_path = $ST/lock
[agent]
root_helper =
[ml2]
type_drivers = flat,vxlan
tenant_network_types = vxlan
mechanism_drivers = test
extension_drivers = port_security
[ml2_type_vxlan]
vni_ranges = 1:1000
$(authtoken nova)
EOF

# ---- RabbitMQ -------------------------------------------------------------------
cat >"$ST/rabbit.env" <<EOF
export HOME=$ST/rabbit-home
export RABBITMQ_NODENAME=vmitest@localhost
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=$RB_PORT
export RABBITMQ_DIST_PORT=$RB_DIST
export RABBITMQ_MNESIA_BASE=$ST/rabbit/mnesia
export RABBITMQ_LOG_BASE=$ST/log/rabbit
export RABBITMQ_CONFIG_FILE=$ST/rabbit/rabbitmq
export RABBITMQ_ENABLED_PLUGINS_FILE=$ST/rabbit/enabled_plugins
export RABBITMQ_PID_FILE=$ST/rabbit/pid
export ERL_EPMD_ADDRESS=127.0.0.1
export ERL_EPMD_PORT=$EPMD_PORT
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
EOF
mkdir -p "$ST/rabbit-home" "$ST/rabbit/mnesia" "$ST/log/rabbit"
printf '[].\n' >"$ST/rabbit/enabled_plugins"
printf 'loopback_users = none\nlisteners.tcp.default = 127.0.0.1:%s\n' "$RB_PORT" >"$ST/rabbit/rabbitmq.conf"

start_bg () {  # start_bg NAME CMD...: a process group of its own, pid kept
  local name=$1; shift
  setsid "$@" >>"$ST/log/$name.out" 2>&1 </dev/null &
  echo $! >"$ST/run/$name.pid"
}
wait_http () {  # wait_http NAME URL SECONDS
  local i
  for i in $(seq 1 $(( $3 * 5 ))); do
    if curl -s -o /dev/null --cacert "$ST/tls/ca.pem" "$2"; then return 0; fi
    if ! kill -0 "$(cat "$ST/run/$1.pid")" 2>/dev/null; then
      log "$1 died:"; tail -n 30 "$ST/log/$1.out" >&2; return 1
    fi
    sleep 0.2
  done
  log "$1 did not answer on $2 in $3 s"; tail -n 30 "$ST/log/$1.out" >&2; return 1
}

(
  # shellcheck disable=SC1091
  . "$ST/rabbit.env"
  start_bg epmd epmd -port "$EPMD_PORT" -address 127.0.0.1
  sleep 0.3
  # Not /usr/sbin/rabbitmq-server: it su-s to rabbitmq and logs in /var/log.
  start_bg rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server
)

# ---- MariaDB ----------------------------------------------------------------------------
MYSOCK=$ST/run/mysqld.sock
if [ "$fresh" = 1 ]; then
  mariadb-install-db --no-defaults --datadir="$ST/mysql" --user=root \
    --auth-root-authentication-method=socket --skip-test-db >>"$ST/log/setup.log" 2>&1 \
    || { log "mariadb-install-db failed:"; tail -n 30 "$ST/log/setup.log" >&2; exit 1; }
fi
start_bg mariadb mariadbd --no-defaults --datadir="$ST/mysql" --user=root \
  --socket="$MYSOCK" --port="$MY_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
  --log-error="$ST/log/mariadb.err" --pid-file="$ST/run/mariadbd.pid" \
  --max-connections=1000 --innodb-buffer-pool-size=96M --innodb-flush-log-at-trx-commit=2 \
  --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci
for i in $(seq 1 300); do
  mariadb-admin --no-defaults --socket="$MYSOCK" -u root ping >/dev/null 2>&1 && break
  if ! kill -0 "$(cat "$ST/run/mariadb.pid")" 2>/dev/null || [ "$i" = 300 ]; then
    log "mariadb did not start:"; tail -n 30 "$ST/log/mariadb.err" >&2; exit 1
  fi
  sleep 0.2
done
if [ "$fresh" = 1 ]; then
  {
    for d in keystone glance cinder placement nova_api nova_cell0 nova neutron; do
      echo "CREATE DATABASE $d;"
    done
    echo "CREATE USER 'vmi'@'127.0.0.1' IDENTIFIED BY '$DB_PW';"
    echo "GRANT ALL PRIVILEGES ON *.* TO 'vmi'@'127.0.0.1';"
  } | mariadb --no-defaults --socket="$MYSOCK" -u root \
    || { log "mariadb: the databases could not be made"; exit 1; }
fi

# ---- Keystone ---------------------------------------------------------------------
export OS_KEYSTONE_CONFIG_DIR=$ST/etc/keystone
KCONF=(--config-file "$ST/etc/keystone/keystone.conf")
if [ "$fresh" = 1 ]; then
  mkdir -p "$ST/keystone-fernet" "$ST/keystone-credential"
  keystone-manage "${KCONF[@]}" db_sync
  keystone-manage "${KCONF[@]}" fernet_setup --keystone-user root --keystone-group root
  keystone-manage "${KCONF[@]}" credential_setup --keystone-user root --keystone-group root
  keystone-manage "${KCONF[@]}" bootstrap --bootstrap-password "$ADMIN_PW" \
    --bootstrap-admin-url "$KS/v3" --bootstrap-public-url "$KS/v3" \
    --bootstrap-internal-url "$KS/v3" --bootstrap-region-id RegionOne
fi >>"$ST/log/setup.log" 2>&1
start_bg keystone uwsgi_python3 --https-socket "127.0.0.1:$KS_PORT,$ST/tls/server.pem,$ST/tls/server.key" \
  --wsgi-file /usr/bin/keystone-wsgi-public --master --processes 2 --threads 2 \
  --buffer-size 65535 --die-on-term --need-app --lazy-apps \
  --add-header "Connection: close" \
  --pidfile "$ST/run/keystone.uwsgi"

# ---- databases of the other services (Keystone starts meanwhile) ---------------------
if [ "$fresh" = 1 ]; then
  glance-manage --config-file "$ST/etc/glance/glance-api.conf" db_sync >>"$ST/log/setup.log" 2>&1 &
  gpid=$!
  cinder-manage --config-file "$ST/etc/cinder/cinder.conf" db sync >>"$ST/log/setup.log" 2>&1 &
  cpid=$!
  placement-manage --config-file "$ST/etc/placement/placement.conf" db sync >>"$ST/log/setup.log" 2>&1
  NCONF=(--config-file "$ST/etc/nova/nova.conf")
  {
    nova-manage "${NCONF[@]}" api_db sync
    nova-manage "${NCONF[@]}" cell_v2 map_cell0 --database_connection "$(db nova_cell0)"
    nova-manage "${NCONF[@]}" cell_v2 create_cell --name cell1
    nova-manage "${NCONF[@]}" db sync
  } >>"$ST/log/setup.log" 2>&1
  wait $gpid $cpid
fi

wait_http keystone "$KS/v3" 60
if [ "$fresh" = 1 ]; then
  /usr/bin/python3 "$HERE/osctl.py" bootstrap >>"$ST/log/setup.log" 2>&1 \
    || { log "bootstrap failed:"; tail -n 30 "$ST/log/setup.log" >&2; exit 1; }
fi

# ---- the services ---------------------------------------------------------------------
if [ ! -f "$ST/db/neutron.done" ]; then
  neutron-db-manage --config-file "$ST/etc/neutron/neutron.conf" upgrade heads >>"$ST/log/setup.log" 2>&1 \
    || { log "neutron-db-manage failed:"; tail -n 30 "$ST/log/setup.log" >&2; exit 1; }
  touch "$ST/db/neutron.done"
fi
PYTHONPATH=$HERE start_bg neutron-server /usr/bin/python3 -c \
  'import sys; from neutron.cmd.eventlet.server import main; import vmi_ml2_driver; from neutron.tests.unit.plugins.ml2.drivers import mechanism_test; mechanism_test.TestMechanismDriver = vmi_ml2_driver.Driver; sys.argv[0] = "neutron-server"; sys.exit(main())' \
  --config-file "$ST/etc/neutron/neutron.conf"
start_bg glance-api glance-api --config-file "$ST/etc/glance/glance-api.conf"
OS_PLACEMENT_CONFIG_DIR=$ST/etc/placement start_bg placement uwsgi_python3 \
  --http-socket "127.0.0.1:$PL_PORT" --wsgi-file /usr/bin/placement-api \
  --master --processes 1 --threads 4 --die-on-term --need-app --buffer-size 65535 \
  --add-header "Connection: close"
CCONF=(--config-file "$ST/etc/cinder/cinder.conf")
start_bg cinder-api cinder-api "${CCONF[@]}"
start_bg cinder-scheduler cinder-scheduler "${CCONF[@]}"
# cinder-volume's NFS driver mounts the share unless its folder already is
# a mount point: bind the local folder there.
mountpoint -q "$OS_NFS_MNT" || mount --bind "$OS_NFS_DATA" "$OS_NFS_MNT"
start_bg cinder-volume cinder-volume "${CCONF[@]}"
NCONF=(--config-file "$ST/etc/nova/nova.conf")
start_bg nova-api nova-api "${NCONF[@]}"
start_bg nova-conductor nova-conductor "${NCONF[@]}"
start_bg nova-scheduler nova-scheduler "${NCONF[@]}"
VMI_NFS_DIR=$OS_NFS_MNT PYTHONPATH=$HERE start_bg nova-compute /usr/bin/python3 -c \
  'import sys; from nova.cmd.compute import main; import vmi_fake_driver; sys.modules["nova.virt.vmi_fake_driver"] = vmi_fake_driver; sys.argv[0] = "nova-compute"; sys.exit(main())' \
  "${NCONF[@]}" --log-file "$ST/log/nova-compute.log"

wait_http glance-api "http://127.0.0.1:$GL_PORT/" 60
wait_http placement "http://127.0.0.1:$PL_PORT/" 60
wait_http cinder-api "http://127.0.0.1:$CI_PORT/" 90
wait_http nova-api "http://127.0.0.1:$NO_PORT/" 90
wait_http neutron-server "http://127.0.0.1:$NE_PORT/" 90
/usr/bin/python3 "$HERE/osctl.py" wait-ready >>"$ST/log/setup.log" 2>&1 \
  || { log "services not ready:"; tail -n 30 "$ST/log/setup.log" >&2; exit 1; }
nova-manage "${NCONF[@]}" cell_v2 discover_hosts >>"$ST/log/setup.log" 2>&1
echo "$SETUP_VERSION" >"$ST/version"
log "up"
