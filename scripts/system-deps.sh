#!/usr/bin/env bash
# Installs the system packages the tests run for real, when missing: nginx (the proxy tests,
# internal/testenv/proxies, and the Task example), Chromium (the browser test,
# internal/testenv/chromium), promtool (Debian's prometheus package: the chart's alerting rules,
# charts/monitoring_test.go), mkdocs and its Material theme (the docs site, `make docs`) and the
# Task example's FastAPI, uvicorn and SQLModel (Debian's python3-fastapi, python3-uvicorn,
# python3-sqlmodel: examples/tasks). Debian or Ubuntu
# (apt-get); as root, or through sudo. `make test-deps` calls it; `make example` calls it as
# `system-deps.sh example`, which installs only what the example runs (nginx and the Python
# packages); the demo needs none of them.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
./scripts/tasks-python.sh >/dev/null 2>&1 || need+=(python3-fastapi python3-uvicorn python3-sqlmodel)
if [ "${1:-}" != example ]; then
	command -v chromium >/dev/null || command -v chromium-browser >/dev/null || need+=(chromium)
	command -v promtool >/dev/null || need+=(prometheus)
	command -v mkdocs >/dev/null || need+=(mkdocs)
	/usr/bin/python3 -c 'import sys; from mkdocs.utils import get_theme_names; sys.exit("material" not in get_theme_names())' 2>/dev/null ||
		need+=(mkdocs-material)
fi
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
	echo "system-deps: install ${need[*]} (the tests and the Task example run them); no apt-get here to do it" >&2
	exit 1
fi
echo "system-deps: installing ${need[*]}"
sudo_cmd=""
[ "$(id -u)" = 0 ] || sudo_cmd=sudo
$sudo_cmd apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}"
# The packages are for /usr/bin/python3; say so when another python3 comes first on PATH.
./scripts/tasks-python.sh >/dev/null
