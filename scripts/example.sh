#!/usr/bin/env bash
# The Task example (examples/tasks): the seed's FastAPI + SQLModel Task API, which has no auth
# code and trusts x-user-id, behind nginx (examples/tasks/nginx.conf: auth_request to
# betterauthz's HTTP check mode), with the bundled Better Auth on the same origin. Everything on
# loopback. Run it with `make example`.
#
# Environment: EXAMPLE_PORT (8000, nginx: the one address a client uses), EXAMPLE_AUTH_PORT
# (3000, Better Auth), EXAMPLE_APP_PORT (8001, the app), EXAMPLE_CHECK_PORT (8081, betterauthz's
# --check-http-addr), EXAMPLE_GRPC_PORT (9000), EXAMPLE_HTTP_PORT (8080, /readyz and /metrics);
# EXAMPLE_WORK: a directory for the logs, the database and nginx's files (default: a new one,
# removed at exit). It prints what to try, and runs until Ctrl-C (examples/tasks/tasks_test.go
# runs it, and the commands it prints).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${EXAMPLE_PORT:-8000}
AUTH_PORT=${EXAMPLE_AUTH_PORT:-3000}
APP_PORT=${EXAMPLE_APP_PORT:-8001}
CHECK_PORT=${EXAMPLE_CHECK_PORT:-8081}
GRPC_PORT=${EXAMPLE_GRPC_PORT:-9000}
HTTP_PORT=${EXAMPLE_HTTP_PORT:-8080}
URL="http://127.0.0.1:${PORT}"
BIN=${BETTERAUTHZ_BIN:-./bin/betterauthz}

[ -x "$BIN" ] || { echo "run 'make build' first (or use 'make example')" >&2; exit 1; }
[ -d test/betterauth/node_modules ] || (cd test/betterauth && npm ci --no-audit --no-fund --loglevel=error)
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx is not installed: ./scripts/system-deps.sh example (or 'make example') installs it" >&2; exit 1; }
PY=$(./scripts/tasks-python.sh)

if [ -n "${EXAMPLE_WORK:-}" ]; then
	WORK=$EXAMPLE_WORK
	keep_work=1
else
	WORK=$(mktemp -d)
	keep_work=0
fi
mkdir -p "$WORK/nginx/tmp"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ "$keep_work" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() { # url what
	for _ in $(seq 1 150); do
		if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
		sleep 0.2
	done
	echo "$2 did not come up ($1); its log is in $WORK" >&2
	return 1
}
wait_for_port() { # port what
	for _ in $(seq 1 150); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.2
	done
	echo "$2 did not come up (port $1); its log is in $WORK" >&2
	return 1
}

echo "==> Better Auth on 127.0.0.1:${AUTH_PORT}, baseURL ${URL} (the clients reach it through nginx)"
(cd test/betterauth && PORT=$AUTH_PORT HOST=127.0.0.1 BETTER_AUTH_URL=$URL TEST_PLUGINS=1 exec node server.mjs) >"$WORK/better-auth.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:${AUTH_PORT}/api/auth/jwks" "Better Auth"

# The app answers 401 to a request without x-user-id, and records every request it gets
# (app-requests.jsonl): so it is waited for by its port, not with a request of its own.
echo "==> the Task API (FastAPI + SQLModel, $PY) on 127.0.0.1:${APP_PORT}"
PYTHONDONTWRITEBYTECODE=1 TASKS_DB="$WORK/tasks.db" TASKS_REQUEST_LOG="$WORK/app-requests.jsonl" \
	"$PY" -m uvicorn app:app --app-dir examples/tasks --host 127.0.0.1 --port "$APP_PORT" >"$WORK/app.log" 2>&1 &
pids+=($!)
wait_for_port "$APP_PORT" "the Task API"

echo "==> nginx on ${URL}: /api/auth/ to Better Auth, the rest to the app after asking betterauthz"
sed -e "s|LISTEN_ADDR|127.0.0.1:${PORT}|g" -e "s|BETTERAUTHZ_CHECK_ADDR|127.0.0.1:${CHECK_PORT}|g" \
	-e "s|UPSTREAM_ADDR|127.0.0.1:${APP_PORT}|g" -e "s|BETTER_AUTH_ADDR|127.0.0.1:${AUTH_PORT}|g" \
	examples/tasks/nginx.conf >"$WORK/nginx/site.conf"
# One process, everything it writes under $WORK (as internal/testenv/proxies runs it).
cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log stderr notice;
events { worker_connections 256; }
http {
	access_log $WORK/nginx-access.log;
	client_body_temp_path $WORK/nginx/tmp/client_body;
	proxy_temp_path $WORK/nginx/tmp/proxy;
	fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
	uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
	scgi_temp_path $WORK/nginx/tmp/scgi;
	include $WORK/nginx/site.conf;
}
EOF
"$NGINX" -e stderr -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" >"$WORK/nginx.log" 2>&1 &
pids+=($!)
wait_for "${URL}/api/auth/jwks" "nginx"

# Only BETTER_AUTH_URL: the public URL is Better Auth's baseURL, so iss and aud are its origin and
# the JWKS is fetched from ${URL}/api/auth/jwks, through nginx.
echo "==> betterauthz: HTTP check mode on 127.0.0.1:${CHECK_PORT}, ops http://127.0.0.1:${HTTP_PORT}"
BETTER_AUTH_URL=$URL "$BIN" --config examples/tasks/betterauthz.yaml --grpc-addr "127.0.0.1:${GRPC_PORT}" --http-addr "127.0.0.1:${HTTP_PORT}" \
	--check-http-addr "127.0.0.1:${CHECK_PORT}" --log-decisions all >"$WORK/betterauthz.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:${HTTP_PORT}/readyz" "betterauthz"

CLIENT="node examples/tasks/client.mjs --url ${URL}"
echo "==> ready: ${URL} (logs in $WORK)"

cat <<EOF

Try (the app trusts x-user-id, so in a real deployment only nginx may reach 127.0.0.1:${APP_PORT}):
  $CLIENT alice@example.com alice-password add "buy milk"
  $CLIENT alice@example.com alice-password list
  $CLIENT bob@example.com bob-password list    # bob sees none of alice's tasks
  curl -i ${URL}/api/tasks    # no token: 401 from betterauthz, the app is not asked
  curl -c $WORK/jar -H 'content-type: application/json' -d '{"email":"carol@example.com","password":"carol-password","name":"Carol"}' ${URL}/api/auth/sign-up/email
  TOKEN=\$(curl -sS -b $WORK/jar ${URL}/api/auth/token | node -p 'JSON.parse(require("fs").readFileSync(0)).token')
  curl -H "Authorization: Bearer \$TOKEN" -H 'x-user-id: someone-else' ${URL}/api/tasks    # carol's tasks: the spoofed header changes nothing
  curl -H 'x-user-id: someone-else' http://127.0.0.1:${APP_PORT}/api/tasks    # straight to the app: anyone is anyone (what examples/tasks/kubernetes.yaml prevents)
  tail -f $WORK/app-requests.jsonl    # every request the app got, with its x-user-id

Ctrl-C stops everything.
EOF
wait
