#!/usr/bin/env bash
# The HTTP worker's request path under valgrind (memcheck), once.
#
#   bash test/valgrind-worker.sh          # about 2 minutes
#   bash test/valgrind-worker.sh --keep   # keep the private tree and the logs
#
# Run as root.  Like test/sanitize.sh it works in a private copy of the
# PostgreSQL installation under /tmp (nothing is installed into the system
# one) and runs the server as the unprivileged user c5test.  The extension
# is built plain (-O0 -g).  A cluster is prepared without valgrind (the
# extension, the reference schema, some sales, stock and refunds, saved at
# a clean shutdown), then started again with the postmaster under
# valgrind: every process it forks, the worker among them, runs under
# memcheck, with one log per process.  The worker then answers:
#   /metrics as Prometheus text, as OpenMetrics, gzipped, HEAD; /healthz;
#   /readyz; the status page / and /slo.json (gzipped, HEAD); 404; 405
#   (POST, DELETE, with a body); malformed requests
#   (garbage, a bad version, a header without a colon, a NUL, an oversized
#   header, a request cut in the middle, a request left unfinished until
#   the request timeout); hostile Accept and Accept-Encoding values; a
#   connection table full of idle keep-alive connections and a newcomer;
#   missing, wrong and mis-schemed credentials (bearer);
# then, after a reload to TLS with basic credentials, the same over HTTPS.
# Each answer's status is checked.  The verdict: no memcheck error whose
# stack has a c5metrics frame (in c5metrics.so or c5metrics_http.so) in any
# process, and the worker's own log holds no error at all; the worker
# never died.  Errors in PostgreSQL's own frames are counted and shown,
# not failed.  TCP ports come from 58000-58099.
# The last line is "valgrind-worker: N passed, M failed"; exit status 0
# only if M is 0.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. test/lib.sh

keep=0
for arg in "$@"; do
	case $arg in
	--keep) keep=1 ;;
	*) die "usage: $0 [--keep]" ;;
	esac
done
[ "$(id -u)" -eq 0 ] || die "run as root (the server runs as $C5_USER)"

c5_ensure_packages make gcc valgrind postgresql-15 postgresql-server-dev-15 \
	libmicrohttpd-dev zlib1g-dev curl openssl
c5_ensure_user

start=$(date +%s)
work=$(mktemp -d /tmp/c5vg.XXXXXX) || die "mktemp failed"
chmod 755 "$work"
R=$work/pgroot
SRC=$work/src
BIN=$R/usr/lib/postgresql/15/bin
PGC=$BIN/pg_config
LIBDIR=$R/usr/lib/postgresql/15/lib
DATA=$work/data
VG=$work/vg
SLOG=$work/server.log

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); say "FAILED: $*"; }
abort_run() {
	say "error: $*"
	failed=$((failed + 1))
	echo "valgrind-worker: $passed passed, $failed failed"
	exit 1
}

stop_private_processes() {
	local exe pid
	for exe in /proc/[0-9]*/exe; do
		pid=${exe#/proc/}
		pid=${pid%/exe}
		case $(readlink "$exe" 2>/dev/null) in
		"$R"/* | */valgrind/memcheck-*)
			# valgrind runs as memcheck-*: ours only if its command names our tree
			tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$R/" &&
				kill -KILL "$pid" 2>/dev/null
			;;
		esac
	done
}
cleanup() {
	[ -f "$DATA/postmaster.pid" ] &&
		c5_as_user "$BIN/pg_ctl" -D "$DATA" -m immediate -w -t 60 stop >/dev/null 2>&1
	stop_private_processes
	if [ "$keep" -eq 1 ] || [ "$failed" -gt 0 ]; then
		# keep what explains a failure, not the 60 MB tree
		[ "$keep" -eq 1 ] || rm -rf "$R" "$SRC" "$DATA"
		say "kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- private tree and plain debug build ----------------------------------
say "=== private tree $R, build -O0 -g ==="
mkdir -p "$SRC" "$VG"
c5_private_pgroot "$R" || abort_run "cannot make the private copy of the PostgreSQL installation in $R"
c5_copy_sources "$SRC" || abort_run "cannot copy the sources"
(
	cd "$SRC" &&
		make -s -j2 PG_CONFIG="$PGC" COPT="-O0 -g -fno-omit-frame-pointer" &&
		make -s PG_CONFIG="$PGC" install
) >"$work/build.log" 2>&1 || {
	tail -n 30 "$work/build.log" >&2
	abort_run "build failed"
}
# the server's user writes the data directory, its socket and the logs here
chown "$C5_USER" "$work"
chown -R "$C5_USER" "$VG"

# ---- the cluster ---------------------------------------------------------
pgport=$(c5_free_port 58000 58099) && http=$(c5_free_port $((pgport + 1)) 58099) ||
	abort_run "no free port in 58000-58099"
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$token" >"$work/token"
printf 'prom:%s\n' "$token" >"$work/basic"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
	-days 2 -subj /CN=127.0.0.1 >/dev/null 2>&1 || abort_run "openssl failed"
chown "$C5_USER" "$work/token" "$work/basic" "$work/key.pem" "$work/cert.pem"
chmod 600 "$work/token" "$work/basic" "$work/key.pem"

c5_as_user "$BIN/initdb" -D "$DATA" -A trust -U postgres >"$work/initdb.log" 2>&1 ||
	{ cat "$work/initdb.log" >&2; abort_run "initdb failed"; }
cat >>"$DATA/postgresql.conf" <<EOF
port = $pgport
listen_addresses = ''
unix_socket_directories = '$work'
shared_preload_libraries = 'c5metrics'
log_line_prefix = '%m [%p] %b '
autovacuum = off
max_wal_senders = 0
wal_level = minimal
max_logical_replication_workers = 0
max_prepared_transactions = 2
c5metrics.listen_addresses = '127.0.0.1'
c5metrics.port = $http
c5metrics.http_auth = 'bearer'
c5metrics.http_auth_file = '$work/token'
c5metrics.http_request_timeout = 3000
EOF
psql_() { c5_as_user "$BIN/psql" -X -h "$work" -p "$pgport" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 "$@"; }
pg_ctl_() { c5_as_user "$BIN/pg_ctl" -D "$DATA" "$@"; }

say "=== preparing the registry (no valgrind) ==="
pg_ctl_ -l "$work/prepare.log" -w start >/dev/null || { cat "$work/prepare.log" >&2; abort_run "start failed"; }
psql_ >"$work/prepare-sql.log" 2>&1 <<'EOF' || { cat "$work/prepare-sql.log" >&2; abort_run "preparing the data failed"; }
CREATE EXTENSION c5metrics;
SELECT c5metrics.create_reference_schema();
INSERT INTO shop.products (sku, name, price) VALUES ('CREAM', 'Night cream', 10), ('SERUM', 'Serum', 20);
INSERT INTO shop.stock_lots (product_id, expires_on, quantity_on_hand) VALUES
  (1, current_date + 30, 100), (2, current_date + 60, 100);
INSERT INTO shop.sales (total) SELECT 20 FROM generate_series(1, 6);
INSERT INTO shop.sale_items (sale_id, product_id, quantity, unit_price) SELECT s, 1 + s % 2, 2, 10 FROM generate_series(1, 6) s;
SELECT shop.pay_sale(s) FROM generate_series(1, 4) s;
UPDATE shop.sales SET status = 'cancelled' WHERE id = 5;
SELECT shop.refund_sale(1, 20, 'full', 'k1', true);
SELECT shop.refund_sale(2, 5, 'partial', 'k2');
BEGIN; SELECT shop.pay_sale(6); ROLLBACK;
INSERT INTO shop.public_leads (email, source_ip) VALUES ('a@b.example', '10.0.0.1');
EOF
pg_ctl_ -m fast -w stop >/dev/null || abort_run "stop failed"

say "=== the server under valgrind ==="
# Every process the postmaster forks stays under memcheck; one log each.
c5_as_user env DEBUGINFOD_URLS= valgrind --tool=memcheck --trace-children=no --track-origins=yes --num-callers=40 \
	--error-limit=no --leak-check=no --fullpath-after= --log-file="$VG/vg.%p.log" \
	"$BIN/postgres" -D "$DATA" >"$SLOG" 2>&1 &
up=0
for i in $(seq 1 600); do
	curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$http/healthz" && { up=1; break; }
	sleep 0.5
done
[ "$up" -eq 1 ] || { tail -n 30 "$SLOG" >&2; abort_run "the worker under valgrind did not answer within 300 s"; }
say "serving after $(($(date +%s) - start)) s"

# ---- requests ------------------------------------------------------------
base=http://127.0.0.1:$http
auth=(-H "Authorization: Bearer $token")
om='application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'

# expect NAME CODE CURL-ARGS...: one request with curl, its status checked;
# the body goes to $work/body, the headers to $work/headers.
expect() {
	local name=$1 want=$2 got
	shift 2
	got=$(curl -s -o "$work/body" -D "$work/headers" -w '%{http_code}' --max-time 60 "$@")
	if [ "$got" = "$want" ]; then
		pass
		say "ok: $name: $got"
	else
		fail "$name: $got, expected $want"
	fi
}
# check NAME COMMAND...: a check on the last answer.
check() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then
		pass
		say "ok: $name"
	else
		fail "$name"
	fi
}
# raw NAME EXPECT-REGEX PERL-SEND: bytes on a raw socket; the status line
# of the answer, or "closed", must match.
raw() {
	local name=$1 want=$2 send=$3 got
	got=$(perl -MIO::Socket::INET -e '
		my ($port, $send) = @ARGV;
		my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port, Timeout => 60) or die "connect: $!";
		my %b = (big => "x" x 40000);
		$send =~ s/\{(\w+)\}/$b{$1}/g;
		$send =~ s/\\r/\r/g; $send =~ s/\\n/\n/g; $send =~ s/\\0/\0/g;
		if ($send =~ s/\{CUT\}$//) { print $s $send; close $s; print "closed\n"; exit 0 }
		print $s $send;
		$s->shutdown(1) if $send =~ /\n\r?\n$/;
		local $SIG{ALRM} = sub { print "timeout\n"; exit 0 };
		alarm 60;
		my $line = <$s>;
		print defined $line ? $line : "closed\n";
	' "$http" "$send" 2>&1 | tr -d '\r')
	if [[ "$got" =~ $want ]]; then
		pass
		say "ok: $name: ${got:-nothing}"
	else
		fail "$name: ${got:-nothing}, expected /$want/"
	fi
}

say ""
say "=== requests over HTTP (bearer) ==="
expect "GET /metrics (text)" 200 "${auth[@]}" "$base/metrics"
check "  text body has the business series" grep -Eq '^sales_transition_total\{.*\} [1-9]' "$work/body"
expect "GET /metrics (OpenMetrics, gzip)" 200 "${auth[@]}" -H "Accept: $om" -H 'Accept-Encoding: gzip' "$base/metrics"
check "  gzipped OpenMetrics ending in # EOF" sh -c "grep -qi '^content-encoding: gzip' '$work/headers' && gzip -dc '$work/body' | tail -n 1 | grep -qx '# EOF'"
expect "GET /metrics?format=openmetrics" 200 "${auth[@]}" "$base/metrics?format=openmetrics"
expect "GET /metrics?format=text, gzip;q=0" 200 "${auth[@]}" -H 'Accept-Encoding: gzip;q=0, identity' "$base/metrics?format=text"
expect "HEAD /metrics" 200 "${auth[@]}" -I "$base/metrics"
expect "GET /healthz" 200 "${auth[@]}" "$base/healthz"
expect "GET /readyz" 200 "${auth[@]}" "$base/readyz"
check "  /readyz is ready, role primary" grep -q '"role":"primary"' "$work/body"
expect "GET / (the status page)" 200 "${auth[@]}" "$base/"
check "  the page has its SLO table" grep -q 'id="slos"' "$work/body"
expect "GET / gzipped" 200 "${auth[@]}" -H 'Accept-Encoding: gzip' "$base/"
expect "HEAD /" 200 "${auth[@]}" -I "$base/"
expect "GET /slo.json" 200 "${auth[@]}" "$base/slo.json"
check "  /slo.json has the SLOs" grep -q '"slos":\[{"slo":"sale_paid_availability"' "$work/body"
expect "POST /" 405 "${auth[@]}" -X POST "$base/"
expect "GET /nope" 404 "${auth[@]}" "$base/nope"
expect "POST /metrics" 405 "${auth[@]}" -X POST "$base/metrics"
check "  405 names the allowed methods" grep -qi '^allow: GET, HEAD' "$work/headers"
expect "POST /metrics with a body" 405 "${auth[@]}" --data-binary "@$work/cert.pem" "$base/metrics"
expect "DELETE /healthz" 405 "${auth[@]}" -X DELETE "$base/healthz"
expect "hostile Accept" 200 "${auth[@]}" -H 'Accept: ;;,,q=;text/plain;q=abc;version=,application/openmetrics-text;q=1e999,*/*;q=-1' "$base/metrics"
expect "hostile Accept-Encoding" 200 "${auth[@]}" -H 'Accept-Encoding: ,;q=,gzip;q=0.0000001,*;q=0,deflate;;;' "$base/metrics"
expect "long query string" 200 "${auth[@]}" "$base/metrics?format=text&$(head -c 3000 /dev/zero | tr '\0' a)=1"
expect "no credentials" 401 "$base/metrics"
expect "wrong token" 401 -H "Authorization: Bearer x$token" "$base/metrics"
expect "wrong scheme" 401 -u "prom:$token" "$base/metrics"
expect "empty bearer" 401 -H "Authorization: Bearer " "$base/healthz"
got=$(curl -s -v "${auth[@]}" -o /dev/null -o /dev/null -w '%{http_code} ' "$base/healthz" "$base/metrics" 2>"$work/curl-v")
if [ "$got" = "200 200 " ] && grep -qi 're-using existing connection' "$work/curl-v"; then
	pass
	say "ok: keep-alive: two requests on one connection: $got"
else
	fail "keep-alive: $got"
fi
raw "garbage" '^(HTTP/1\.[01] 4[0-9][0-9]|closed)' 'GARBAGE\r\n\r\n'
raw "bad HTTP version" '^(HTTP/1\.[01] (4[0-9][0-9]|505)|closed)' 'GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n'
raw "header without a colon" '^(HTTP/1\.[01] 4[0-9][0-9]|closed)' 'GET /metrics HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n'
raw "NUL in the request line" '^(HTTP/1\.[01] 4[0-9][0-9]|closed)' 'GET /met\0rics HTTP/1.1\r\nHost: x\r\n\r\n'
raw "HTTP/1.1 without Host" '^(HTTP/1\.[01] 4[0-9][0-9]|closed)' 'GET /metrics HTTP/1.1\r\n\r\n'
raw "oversized header" '^(HTTP/1\.[01] 4[0-9][0-9]|closed)' 'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n'
raw "request cut in the middle" '^closed$' 'GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: text/{CUT}'
raw "request left unfinished (request timeout)" '^(closed|HTTP/1\.[01] 4[0-9][0-9])' 'GET /metrics HTTP/1.1\r\nHost: x\r\n'
expect "still serving after the malformed requests" 200 "${auth[@]}" "$base/healthz"

say ""
say "=== a full connection table ==="
# 32 keep-alive connections (8 from each of 127.0.0.2-5), each idle after
# one request: a newcomer takes the place of the one idle the longest.
rm -f "$work/table.full"
perl -MIO::Socket::INET -e '
	my ($port, $ready) = @ARGV;
	my @s;
	for my $i (0 .. 31) {
		my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port,
			LocalAddr => "127.0.0." . (2 + $i % 4), Timeout => 60) or exit 1;
		print $s "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
		defined(<$s>) or exit 1;
		push @s, $s;
	}
	open(my $f, ">", $ready) and close $f;
	sleep 30;
' "$http" "$work/table.full" &
holder=$!
for i in $(seq 1 120); do
	[ -e "$work/table.full" ] && break
	sleep 0.5
done
check "  32 idle keep-alive connections fill the table" test -e "$work/table.full"
expect "a newcomer with the table full" 200 "${auth[@]}" "$base/healthz"
kill "$holder" 2>/dev/null
wait "$holder"
psql_ -c 'SELECT c5metrics.exposition()' >"$work/exposition" 2>&1
check "  an idle connection was evicted for it" \
	grep -Eq '^c5metrics_http_refused_connections_total\{reason="evicted"\} [1-9]' "$work/exposition"

say ""
say "=== a transaction while the worker serves ==="
psql_ -c "INSERT INTO shop.sales (total) VALUES (7); UPDATE shop.sales SET status = 'cancelled' WHERE total = 7" >/dev/null 2>&1 &&
	pass || fail "SQL under valgrind"
expect "GET /metrics after it" 200 "${auth[@]}" "$base/metrics"

say ""
say "=== reload: HTTPS with basic credentials ==="
cat >>"$DATA/postgresql.conf" <<EOF
c5metrics.http_auth = 'basic'
c5metrics.http_auth_file = '$work/basic'
c5metrics.http_tls_cert_file = '$work/cert.pem'
c5metrics.http_tls_key_file = '$work/key.pem'
EOF
pg_ctl_ reload >/dev/null
sbase=https://127.0.0.1:$http
up=0
for i in $(seq 1 240); do
	curl -sk -o /dev/null --max-time 5 -u "prom:$token" "$sbase/healthz" && { up=1; break; }
	sleep 0.5
done
[ "$up" -eq 1 ] && pass || fail "HTTPS after the reload"
expect "HTTPS GET /metrics (OpenMetrics, gzip)" 200 -k -u "prom:$token" -H "Accept: $om" -H 'Accept-Encoding: gzip' "$sbase/metrics"
expect "HTTPS GET /readyz" 200 -k -u "prom:$token" "$sbase/readyz"
expect "HTTPS 404" 404 -k -u "prom:$token" "$sbase/x"
expect "HTTPS wrong password" 401 -k -u "prom:x$token" "$sbase/metrics"
expect "HTTPS bearer instead of basic" 401 -k -H "Authorization: Bearer $token" "$sbase/metrics"
expect "HTTPS basic without a colon" 401 -k -H "Authorization: Basic $(printf 'promonly' | base64)" "$sbase/metrics"
raw "plain HTTP on the TLS port" '^(HTTP/1\.[01] 4[0-9][0-9]|closed|.*)$' 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'
expect "HTTPS still serving" 200 -k -u "prom:$token" "$sbase/healthz"

# ---- stop and judge ------------------------------------------------------
say ""
say "=== stopping (valgrind writes its summaries) ==="
pm=$(head -n 1 "$DATA/postmaster.pid")
pg_ctl_ -m fast -w -t 300 stop >/dev/null || fail "the server did not stop within 300 s"
for i in $(seq 1 120); do
	kill -0 "$pm" 2>/dev/null || break
	sleep 0.5
done
wait

say ""
say "=== memcheck ==="
worker_pids=$(sed -n 's/.*\[\([0-9]*\)\] .*c5metrics http: listening.*/\1/p' "$SLOG" | sort -u)
[ -n "$worker_pids" ] && pass || fail "no worker in the server log"
# (up to the shutdown request: at shutdown the worker exits with code 1)
if sed '/received fast shutdown request/q' "$SLOG" |
	grep -E 'c5metrics http listener.*(terminated by signal|exited with exit code)|server process .* (was terminated|exited with exit code)'; then
	fail "a process died (above)"
else
	pass
fi
# Per process: errors, and the error blocks with a c5metrics frame.
perl -e '
	my ($src, $libdir, @files) = @ARGV;
	my ($total, $ours, $procs) = (0, 0, 0);
	for my $f (@files) {
		open(my $fh, "<", $f) or next;
		local $/; my $t = <$fh>; close $fh;
		$procs++;
		my ($n) = $t =~ /ERROR SUMMARY: (\d+) errors/;
		$total += $n // 0;
		my ($pid) = $f =~ /vg\.(\d+)\.log/;
		# error blocks: a message line and its stack, up to a blank line
		for my $blk (split /\n==\d+== ?\n/, $t) {
			next unless $blk =~ /^==\d+==    (at|by) /m;
			next if $blk =~ /ERROR SUMMARY|HEAP SUMMARY|LEAK SUMMARY/;
			my $mine = $blk =~ m{\Q$src\E/|c5metrics(_http)?\.so};
			if ($mine) { $ours++; print "--- pid $pid: c5metrics frame ---\n$blk\n" }
			else { $blk =~ /^==\d+== (\S.*)$/m; print "(pid $pid, PostgreSQL or a library only: $1)\n" }
		}
	}
	print "memcheck: $procs processes, $total errors, $ours with a c5metrics frame\n";
	exit($ours ? 1 : 0);
' "$SRC" "$LIBDIR" "$VG"/vg.*.log >"$work/memcheck.txt" 2>&1
mrc=$?
head -c 20000 "$work/memcheck.txt" >&2
[ "$mrc" -eq 0 ] && pass || fail "memcheck errors with c5metrics frames (above)"
for wp in $worker_pids; do
	wl=$VG/vg.$wp.log
	if [ ! -f "$wl" ]; then
		fail "no valgrind log for the worker (pid $wp): it did not run under memcheck"
	elif grep -q 'ERROR SUMMARY: 0 errors' "$wl"; then
		pass
		say "ok: the worker (pid $wp) ran under memcheck: $(grep -o 'ERROR SUMMARY: .*' "$wl")"
	else
		fail "the worker (pid $wp): $(grep -o 'ERROR SUMMARY: .*' "$wl" || echo 'no summary: it did not exit normally')"
	fi
done

say "valgrind-worker: took $(($(date +%s) - start)) s"
echo "valgrind-worker: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
