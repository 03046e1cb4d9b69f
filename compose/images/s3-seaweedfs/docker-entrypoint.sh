#!/usr/bin/env bash
# Entrypoint of liar-offline/s3-seaweedfs: runs SeaweedFS (`weed server` with master, volume,
# filer and S3 gateway in one process) behind MinIO's container contract:
#   [minio] server DIR [--address ADDR] [--console-address ADDR] [other minio flags: ignored]
#   MINIO_ROOT_USER / MINIO_ROOT_PASSWORD, or MINIO_ROOT_USER_FILE / MINIO_ROOT_PASSWORD_FILE
#   (absolute path, or a name under /run/secrets like the MinIO image), default minioadmin.
# The S3 API answers on ADDR (default :9000, path-style, any region, GET /healthz for health)
# through an nginx pass-through; every SeaweedFS port itself listens on 127.0.0.1 only.
# The console address gets a read-only, basic-auth (root user/password) view of the filer
# (buckets and objects); there is no MinIO console or admin API.
# This script stays PID 1 as a small supervisor of weed and nginx: `docker stop` (SIGTERM) first
# drains the S3 front (nginx graceful quit: in-flight requests finish, new ones are refused),
# then sends SIGTERM to weed and gives it LIAR_S3_STOP_GRACE seconds (default 2) before
# SIGKILL: weed 4.48 otherwise sits 15 s in its filer gRPC graceful stop (its own metadata
# subscription streams never end), longer than docker's default 10 s stop timeout. The exit
# status is 0 for a requested stop, non-zero if weed or nginx died on their own.
set -Eeo pipefail

note() { printf 'liar-s3: %s\n' "$*" >&2; }
fail() { printf 'liar-s3: error: %s\n' "$*" >&2; exit 1; }

if [ "${1:-}" = minio ]; then
	shift
fi
case "${1:-}" in
	server) shift ;;
	--version|-v|version)
		echo "liar-offline/s3-seaweedfs: SeaweedFS $(weed version 2>/dev/null | head -n1) (not MinIO)"
		exit 0 ;;
	''|--help|-h|help)
		echo "usage: server DIR [--address :9000] [--console-address :9001]  (SeaweedFS S3, MinIO-compatible command line)"
		exit 0 ;;
	*) exec "$@" ;;
esac

# --- command line ---------------------------------------------------------------------------
api_addr=":9000"
console_addr=""
dirs=()
while [ $# -gt 0 ]; do
	case "$1" in
		--address) api_addr="${2:?--address needs a value}"; shift 2 ;;
		--address=*) api_addr="${1#*=}"; shift ;;
		--console-address) console_addr="${2:?--console-address needs a value}"; shift 2 ;;
		--console-address=*) console_addr="${1#*=}"; shift ;;
		--certs-dir|-S|--config-dir|-C|--ftp|--sftp|--interface|--dns-cache-ttl|--shutdown-timeout|--idle-timeout|--read-header-timeout|--conn-user-timeout|--memlimit)
			note "ignoring minio flag $1 ${2:-} (not supported by the SeaweedFS stand-in)"; shift; [ $# -gt 0 ] && shift ;;
		-*) note "ignoring minio flag $1 (not supported by the SeaweedFS stand-in)"; shift ;;
		*) dirs+=("$1"); shift ;;
	esac
done
[ "${#dirs[@]}" -ge 1 ] || fail "usage: server DIR [--console-address ADDR]: no DIR given"
[ "${#dirs[@]}" -eq 1 ] || fail "only one DIR is supported (got ${dirs[*]}): no erasure-coded sets in the SeaweedFS stand-in"
data_dir="${dirs[0]}"
case "$data_dir" in
	*'{'*'...'*'}'*|http://*|https://*) fail "expansion/remote DIRs ($data_dir) are not supported: use one local directory" ;;
esac

# ADDR ([HOST]:PORT) -> ADDR_HOST ("" means all interfaces) and ADDR_PORT
split_addr() {
	local addr=$1
	ADDR_PORT="${addr##*:}"
	ADDR_HOST="${addr%:*}"
	[ "$ADDR_HOST" = "$addr" ] && ADDR_HOST=""
	ADDR_HOST="${ADDR_HOST#[}"
	ADDR_HOST="${ADDR_HOST%]}"
	case "$ADDR_PORT" in ''|*[!0-9]*) fail "bad address '$addr' (want [HOST]:PORT)" ;; esac
}
split_addr "$api_addr"
api_host="$ADDR_HOST"
api_port="$ADDR_PORT"
if [ -n "$console_addr" ]; then
	split_addr "$console_addr"
	[ "$ADDR_PORT" != "$api_port" ] || fail "--console-address $console_addr uses the S3 API port"
fi

# --- credentials ----------------------------------------------------------------------------
# usage: secret_env VAR  ->  VAR from ${VAR}_FILE (absolute, or under /run/secrets) or from VAR
secret_env() {
	local var=$1 fileVar="${1}_FILE" f=""
	local name="${!fileVar:-}"
	if [ -n "$name" ]; then
		if [ -f "$name" ]; then
			f="$name"
		elif [ -f "/run/secrets/$name" ]; then
			f="/run/secrets/$name"
		elif [ "${name#/}" != "$name" ]; then
			note "warning: $fileVar=$name is not a readable file, ignoring it"
		fi
	fi
	if [ -n "$f" ]; then
		[ -r "$f" ] || fail "$fileVar: cannot read $f"
		printf -v "$var" '%s' "$(< "$f")"
	fi
	unset "$fileVar"
}
secret_env MINIO_ROOT_USER
secret_env MINIO_ROOT_PASSWORD
# deprecated MinIO names, still honoured by MinIO
if [ -z "${MINIO_ROOT_USER:-}" ] && [ -n "${MINIO_ACCESS_KEY:-}" ]; then MINIO_ROOT_USER="$MINIO_ACCESS_KEY"; fi
if [ -z "${MINIO_ROOT_PASSWORD:-}" ] && [ -n "${MINIO_SECRET_KEY:-}" ]; then MINIO_ROOT_PASSWORD="$MINIO_SECRET_KEY"; fi
if [ -z "${MINIO_ROOT_USER:-}" ] && [ -z "${MINIO_ROOT_PASSWORD:-}" ]; then
	note "WARNING: no MINIO_ROOT_USER/MINIO_ROOT_PASSWORD: using the default minioadmin:minioadmin (as MinIO does); change it"
	MINIO_ROOT_USER=minioadmin
	MINIO_ROOT_PASSWORD=minioadmin
fi
[ -n "${MINIO_ROOT_USER:-}" ] || fail "MINIO_ROOT_PASSWORD is set but MINIO_ROOT_USER is not: set both"
[ -n "${MINIO_ROOT_PASSWORD:-}" ] || fail "MINIO_ROOT_USER is set but MINIO_ROOT_PASSWORD is not: set both"
# MinIO's own rules, so a setup that works here also works with the real image
[ "${#MINIO_ROOT_USER}" -ge 3 ] || fail "MINIO_ROOT_USER must be at least 3 characters (MinIO's rule)"
[ "${#MINIO_ROOT_PASSWORD}" -ge 8 ] || fail "MINIO_ROOT_PASSWORD must be at least 8 characters (MinIO's rule)"
case "$MINIO_ROOT_USER$MINIO_ROOT_PASSWORD" in
	*[[:cntrl:]]*) fail "MINIO_ROOT_USER/MINIO_ROOT_PASSWORD must not contain control characters or newlines" ;;
esac

json_str() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	printf '"%s"' "$s"
}

# All SeaweedFS listeners (master, volume, filer, the S3 gateway and its gRPC port, which
# accepts unauthenticated IAM-cache updates) are bound to 127.0.0.1 inside the container. The
# S3 API address (and the console address) are served by nginx, which passes requests through
# unchanged (Host header kept, so SigV4 signatures verify; bodies streamed, not buffered).
listen_of() {
	split_addr "$1"
	case "$ADDR_HOST" in
		'') printf '%s' "$ADDR_PORT" ;;
		*:*) printf '[%s]:%s' "$ADDR_HOST" "$ADDR_PORT" ;;
		*) printf '%s:%s' "$ADDR_HOST" "$ADDR_PORT" ;;
	esac
}
weed_s3_port=8333
[ "$api_port" = 8333 ] && weed_s3_port=8334
case "$api_host" in
	0.0.0.0|''|::|127.0.0.1) probe_host=127.0.0.1 ;;
	*:*) probe_host="[$api_host]" ;;
	*) probe_host="$api_host" ;;
esac

umask 077
run_dir=/run/liar-s3
mkdir -p "$run_dir"
chmod 0700 "$run_dir"
s3_config="$run_dir/s3.json"
printf '{"identities":[{"name":"minio-root","credentials":[{"accessKey":%s,"secretKey":%s}],"actions":["Admin","Read","List","Tagging","Write"]}]}\n' \
	"$(json_str "$MINIO_ROOT_USER")" "$(json_str "$MINIO_ROOT_PASSWORD")" >"$s3_config.tmp"
mv -f "$s3_config.tmp" "$s3_config"
umask 022
# for the `mc ready local` shim
mkdir -p /run/liar-s3-public
printf 'http://%s:%s\n' "$probe_host" "$api_port" >/run/liar-s3-public/endpoint

ndir=/run/liar-s3-nginx
rm -rf "$ndir"
mkdir -p "$ndir/tmp"
chown root:nogroup "$ndir"
chmod 0750 "$ndir"

console_server=""
if [ -n "$console_addr" ]; then
	case "$MINIO_ROOT_USER" in
		*:*) note "console disabled: the root user contains ':'" ;;
		*)
			# {SSHA} = base64(sha1(password . salt) . salt); no password on any command line
			(
				umask 077
				openssl rand 8 >"$ndir/salt"
				{ printf '%s' "$MINIO_ROOT_PASSWORD"; cat "$ndir/salt"; } | openssl dgst -sha1 -binary >"$ndir/hash"
				printf '%s:{SSHA}%s\n' "$MINIO_ROOT_USER" "$(cat "$ndir/hash" "$ndir/salt" | openssl base64 -A)" >"$ndir/htpasswd"
				rm -f "$ndir/salt" "$ndir/hash"
			)
			chown root:nogroup "$ndir/htpasswd"
			chmod 0440 "$ndir/htpasswd"
			console_server="
    # console address: read-only view of the SeaweedFS filer (buckets, objects), root login
    server {
        listen $(listen_of "$console_addr");
        auth_basic \"liar-offline S3 stand-in (SeaweedFS filer, read-only)\";
        auth_basic_user_file $ndir/htpasswd;
        location = / { return 302 /buckets/; }
        location / {
            limit_except GET HEAD { deny all; }
            proxy_pass http://127.0.0.1:8888;
            proxy_set_header Accept-Encoding \"\";
        }
    }"
			;;
	esac
fi

cat >"$ndir/nginx.conf" <<EOC
# generated by /usr/bin/docker-entrypoint.sh (liar-offline/s3-seaweedfs)
daemon off;
worker_shutdown_timeout 5s;
user nobody nogroup;
worker_processes 1;
pid $ndir/nginx.pid;
error_log stderr crit;
events { worker_connections 1024; }
http {
    access_log off;
    server_tokens off;
    absolute_redirect off;
    client_body_temp_path $ndir/tmp/body;
    proxy_temp_path $ndir/tmp/proxy;
    fastcgi_temp_path $ndir/tmp/fastcgi;
    uwsgi_temp_path $ndir/tmp/uwsgi;
    scgi_temp_path $ndir/tmp/scgi;
    upstream weed_s3 {
        server 127.0.0.1:$weed_s3_port;
        keepalive 16;
    }
    # S3 API address: pass-through to the SeaweedFS S3 gateway
    server {
        listen $(listen_of "$api_addr");
        client_max_body_size 0;
        underscores_in_headers on;
        ignore_invalid_headers off;
        large_client_header_buffers 8 64k;
        proxy_request_buffering off;
        proxy_buffering off;
        proxy_http_version 1.1;
        proxy_read_timeout 600s;
        proxy_send_timeout 600s;
        location / {
            proxy_pass http://weed_s3;
            # the S3 server's own Server header, not this front's (backups record it as the tool)
            proxy_pass_header Server;
            proxy_set_header Host \$http_host;
            proxy_set_header Connection "";
        }
    }$console_server
}
EOC
nginx -t -q -c "$ndir/nginx.conf" || fail "nginx front for the S3 API rejected its config ($ndir/nginx.conf)"
if [ -n "$console_server" ]; then
	note "console address $console_addr: read-only SeaweedFS filer browser (basic auth with the root user/password), not the MinIO console"
fi

mkdir -p "$data_dir/.seaweedfs"

export -n MINIO_ROOT_USER MINIO_ROOT_PASSWORD
unset MINIO_ROOT_USER MINIO_ROOT_PASSWORD MINIO_ACCESS_KEY MINIO_SECRET_KEY

weed_pid=""
nginx_pid=""
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
wait_gone() { # PID TENTHS
	local i
	for ((i = 0; i < $2; i++)); do
		alive "$1" || return 0
		sleep 0.1
	done
	! alive "$1"
}
stop_all() {
	trap '' TERM INT QUIT
	note "stop requested: draining the S3 front, then stopping weed"
	if alive "$nginx_pid"; then
		kill -QUIT "$nginx_pid" 2>/dev/null || true
		wait_gone "$nginx_pid" 60 || kill -KILL "$nginx_pid" 2>/dev/null || true
	fi
	if alive "$weed_pid"; then
		kill -TERM "$weed_pid" 2>/dev/null || true
		if ! wait_gone "$weed_pid" "$((${LIAR_S3_STOP_GRACE:-2} * 10))"; then
			note "weed still in its graceful stop after ${LIAR_S3_STOP_GRACE:-2}s (SeaweedFS waits 15 s on its own gRPC streams); requests were drained, ending it now"
			kill -KILL "$weed_pid" 2>/dev/null || true
		fi
	fi
	wait 2>/dev/null || true
	note "stopped"
	exit 0
}
trap stop_all TERM INT QUIT

# Go's collector lets the heap grow to about twice what is live. Under the container's memory
# limit (the seed gives MinIO 1 GiB) weed was OOM-killed restoring 384 MiB of objects in four
# parallel multipart uploads; the same uploads peaked near 800 MiB here without a soft limit and
# near 300 MiB with one, as fast. So, unless GOMEMLIMIT is given, weed gets 60% of the cgroup's
# limit as its soft limit (MinIO sizes itself from the cgroup limit too).
if [ -z "${GOMEMLIMIT:-}" ]; then
	cg_limit=""
	if [ -r /sys/fs/cgroup/memory.max ]; then
		cg_limit="$(cat /sys/fs/cgroup/memory.max)"
	elif [ -r /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
		cg_limit="$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
	fi
	case "$cg_limit" in
		''|*[!0-9]*) ;;  # "max": no limit
		*) if [ "$cg_limit" -lt $((1 << 50)) ]; then export GOMEMLIMIT=$((cg_limit / 10 * 6)); fi ;;
	esac
fi

note "SeaweedFS $(weed version 2>/dev/null | awk '{print $3}') S3 API on ${api_host:-*}:$api_port, data in $data_dir/.seaweedfs (this is not MinIO)"
weed -logtostderr server \
	-dir="$data_dir/.seaweedfs" \
	-ip=127.0.0.1 -ip.bind=127.0.0.1 \
	-master.volumeSizeLimitMB="${LIAR_S3_VOLUME_SIZE_LIMIT_MB:-64}" \
	-master.telemetry=false \
	-master.electionTimeout=1s \
	-volume.max=0 \
	-volume.preStopSeconds=0 \
	-filer \
	-s3 -s3.port="$weed_s3_port" -s3.config="$s3_config" \
	-s3.port.iceberg=0 -s3.port.lance=0 \
	-s3.iam=false \
	-s3.autoCreateBucket=false \
	-s3.allowDeleteBucketNotEmpty=false &
weed_pid=$!
nginx -c "$ndir/nginx.conf" &
nginx_pid=$!

# wait until one of them ends on its own (a trapped signal runs stop_all instead)
rc=0
wait -n "$weed_pid" "$nginx_pid" || rc=$?
if ! alive "$weed_pid"; then
	note "error: weed exited (status $rc); stopping"
	alive "$nginx_pid" && kill -QUIT "$nginx_pid" 2>/dev/null || true
else
	note "error: the nginx front exited (status $rc; is $api_addr or ${console_addr:-the console address} in use?); stopping weed"
	kill -TERM "$weed_pid" 2>/dev/null || true
	wait_gone "$weed_pid" 20 || kill -KILL "$weed_pid" 2>/dev/null || true
fi
wait 2>/dev/null || true
[ "$rc" = 0 ] && rc=1
exit "$rc"
