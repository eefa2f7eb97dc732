#!/usr/bin/env bash
# Local demo: the bundled Better Auth server, betterauthz verifying its tokens, and two
# `betterauthz check` calls (one allowed, one denied). Run it with `make demo`.
#
# Environment: DEMO_AUTH_PORT (3000), DEMO_GRPC_PORT (9000), DEMO_HTTP_PORT (8080);
# DEMO_EXIT=1 stops everything after the checks instead of leaving the servers running.
set -euo pipefail
cd "$(dirname "$0")/.."

AUTH_PORT=${DEMO_AUTH_PORT:-3000}
GRPC_PORT=${DEMO_GRPC_PORT:-9000}
HTTP_PORT=${DEMO_HTTP_PORT:-8080}
AUTH_URL="http://127.0.0.1:${AUTH_PORT}"
BIN=${BETTERAUTHZ_BIN:-./bin/betterauthz}
WORK=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

[ -x "$BIN" ] || { echo "run 'make build' first (or use 'make demo')" >&2; exit 1; }
[ -d test/betterauth/node_modules ] || (cd test/betterauth && npm ci --no-audit --no-fund --loglevel=error)

wait_for() { # url what
	for _ in $(seq 1 150); do
		if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
		sleep 0.2
	done
	echo "$2 did not come up ($1)" >&2
	return 1
}

echo "==> Better Auth (npm better-auth, JWT plugin) on ${AUTH_URL}"
(cd test/betterauth && PORT=$AUTH_PORT HOST=127.0.0.1 BETTER_AUTH_URL=$AUTH_URL exec node server.mjs) >"$WORK/better-auth.log" 2>&1 &
pids+=($!)
wait_for "${AUTH_URL}/api/auth/jwks" "Better Auth"

echo "==> betterauthz: gRPC 127.0.0.1:${GRPC_PORT}, ops http://127.0.0.1:${HTTP_PORT} (logs: $WORK/betterauthz.log)"
BETTER_AUTH_URL=$AUTH_URL "$BIN" --grpc-addr "127.0.0.1:${GRPC_PORT}" --http-addr "127.0.0.1:${HTTP_PORT}" --log-decisions all >"$WORK/betterauthz.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:${HTTP_PORT}/readyz" "betterauthz"

echo "==> sign up a user and get a JWT from Better Auth (POST /api/auth/sign-up/email, GET /api/auth/token)"
email="demo-$(date +%s)@example.com"
curl -fsS -c "$WORK/cookies" -H 'content-type: application/json' \
	-d "{\"email\":\"${email}\",\"password\":\"demo-password-123\",\"name\":\"Demo User\"}" \
	"${AUTH_URL}/api/auth/sign-up/email" >/dev/null
token=$(curl -fsS -b "$WORK/cookies" "${AUTH_URL}/api/auth/token" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).token))')

echo
echo "==> betterauthz check --token <JWT> --header x-user-id=spoofed    (expect: allowed, x-user-id overwritten)"
"$BIN" check --addr "127.0.0.1:${GRPC_PORT}" --host api.example.com --path /api/orders \
	--header x-user-id=spoofed --token - <<<"$token"

echo
echo "==> betterauthz check    (no token; expect: denied 401)"
if "$BIN" check --addr "127.0.0.1:${GRPC_PORT}" --host api.example.com --path /api/orders; then
	echo "unexpected: allowed without a token" >&2
	exit 1
fi

echo
echo "==> decision log:"
grep '"msg":"decision"' "$WORK/betterauthz.log" || true

if [ "${DEMO_EXIT:-0}" = 1 ]; then
	echo "demo finished"
	exit 0
fi
echo
echo "Both servers keep running. Try:"
echo "  curl http://127.0.0.1:${HTTP_PORT}/metrics | grep betterauthz_"
echo "  $BIN check --addr 127.0.0.1:${GRPC_PORT} --token <jwt>"
echo "Ctrl-C stops them."
wait
