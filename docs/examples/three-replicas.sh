#!/usr/bin/env bash
# Three `charter serve` replicas and their shared stores on one machine:
#
#   PostgreSQL  catalog (with the replicas' leases) and ledger, in the
#               schemas <prefix>_catalog and <prefix>_ledger; a running server.
#   versitygw   an S3 server (posix backend) with the bucket for blobs;
#               started here, in $WORK/s3.
#   MariaDB     the transparency log (tessera's MySQL driver); a running
#               server and a user that may create the database.
#
#   ./three-replicas.sh start   starts versitygw and the replicas, prints
#                               their URLs, and returns
#   ./three-replicas.sh stop    stops everything start started
#
# Put any HTTP load balancer in front of the three URLs (docs/operations.md,
# "Several replicas"). Settings, all optional:
#
#   WORK        folder for data, logs and pids       (default ./charter-fleet)
#   CHARTER     the charter binary                   (default: charter on PATH)
#   VERSITYGW   the versitygw binary                 (default: versitygw on PATH)
#   PG          PostgreSQL database URL              (default postgres://postgres@127.0.0.1:5432/test?sslmode=disable)
#   PREFIX      prefix of the PostgreSQL schemas     (default charter_fleet)
#   LOGDB       the MariaDB database of the log      (default charterlog_fleet)
#   MYSQL       MariaDB user and server, a go-sql-driver DSN without database
#                                                    (default charter:charter@tcp(127.0.0.1:3306)/)
#   PORT        first port: S3 on PORT, replicas on PORT+1..PORT+3 (default 7480)
#
# TestThreeReplicasScript (cmd/charter/fleet_script_test.go) runs this script.
set -euo pipefail

WORK=${WORK:-./charter-fleet}
CHARTER=${CHARTER:-charter}
VERSITYGW=${VERSITYGW:-versitygw}
PG=${PG:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
PREFIX=${PREFIX:-charter_fleet}
LOGDB=${LOGDB:-charterlog_fleet}
MYSQL=${MYSQL:-charter:charter@tcp(127.0.0.1:3306)/}
PORT=${PORT:-7480}

case "$PG" in *\?*) SEP='&' ;; *) SEP='?' ;; esac

stop() {
	if [ -f "$WORK/pids" ]; then
		# Replicas first, then the S3 server they write to.
		tac "$WORK/pids" | while read -r pid; do
			kill "$pid" 2>/dev/null || true
		done
		rm -f "$WORK/pids"
	fi
}

wait_http() { # URL NAME LOGFILE
	for _ in $(seq 1 300); do
		if curl -s -o /dev/null "$1"; then
			return 0
		fi
		sleep 0.1
	done
	echo "$2 did not answer at $1; its log ($3):" >&2
	tail -n 30 "$3" >&2
	return 1
}

start() {
	mkdir -p "$WORK"
	WORK=$(cd "$WORK" && pwd)
	if [ -f "$WORK/pids" ]; then
		echo "already started ($WORK/pids); run $0 stop first" >&2
		exit 1
	fi
	: >"$WORK/pids"

	# S3: versitygw with its posix backend; a folder is a bucket.
	mkdir -p "$WORK/s3/charter-blobs" "$WORK/sidecar"
	if [ ! -f "$WORK/s3-secret" ]; then
		(umask 077 && head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/s3-secret")
	fi
	export AWS_ACCESS_KEY_ID=charter AWS_SECRET_ACCESS_KEY="$(cat "$WORK/s3-secret")" AWS_REGION=us-east-1
	"$VERSITYGW" --access "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" --region "$AWS_REGION" \
		--port "127.0.0.1:$PORT" --quiet --keep-alive posix --sidecar "$WORK/sidecar" "$WORK/s3" >"$WORK/s3.log" 2>&1 &
	echo $! >>"$WORK/pids"
	wait_http "http://127.0.0.1:$PORT/" versitygw "$WORK/s3.log"

	# The log's database (Charter creates tessera's tables in it).
	MYSQL_DSN="${MYSQL}${LOGDB}"
	mysql_create "$MYSQL" "$LOGDB"

	# One key pair for all replicas: the server's (operator) key and the
	# log's signing key.
	"$CHARTER" admin keys --out "$WORK/keys" >/dev/null

	# One config file for all replicas; each adds its own --data and --listen.
	cat >"$WORK/charter.toml" <<EOF
catalog    = "${PG}${SEP}search_path=${PREFIX}_catalog"
ledger     = "${PG}${SEP}search_path=${PREFIX}_ledger"
blobs      = "s3://charter-blobs/prod?endpoint=http://127.0.0.1:${PORT}&region=us-east-1"
log        = "mysql://${MYSQL_DSN}"
server-key = "$WORK/keys/server.key"
log-key    = "$WORK/keys/log.key"
EOF
	chmod 600 "$WORK/charter.toml"

	for i in 1 2 3; do
		CHARTER_LISTEN="127.0.0.1:$((PORT + i))" \
			"$CHARTER" serve --config "$WORK/charter.toml" --data "$WORK/replica$i" >"$WORK/replica$i.log" 2>&1 &
		echo $! >>"$WORK/pids"
	done
	for i in 1 2 3; do
		wait_http "http://127.0.0.1:$((PORT + i))/healthz" "replica $i" "$WORK/replica$i.log"
		echo "replica $i: http://127.0.0.1:$((PORT + i))"
	done
	echo "operator key: $WORK/keys/server.key; stop with: $0 stop (WORK=$WORK)"
}

# mysql_create USERDSN DB: creates DB with the mysql client, from a
# go-sql-driver DSN user:password@tcp(host:port)/.
mysql_create() {
	local dsn=$1 db=$2 user pass host port
	user=${dsn%%:*}
	pass=${dsn#*:}
	pass=${pass%%@*}
	host=${dsn#*tcp(}
	host=${host%%)*}
	port=${host##*:}
	host=${host%%:*}
	MYSQL_PWD="$pass" mysql -h "$host" -P "$port" -u "$user" -e "CREATE DATABASE IF NOT EXISTS \`$db\`"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
