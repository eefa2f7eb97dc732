#!/usr/bin/env bash
# Installs the system packages the tests run for real, when missing: nginx (the proxy tests,
# internal/testenv/proxies), Chromium (the browser test, internal/testenv/chromium) and promtool
# (Debian's prometheus package: the chart's alerting rules, charts/monitoring_test.go). Debian
# or Ubuntu (apt-get); as root, or through sudo. `make test-deps` calls it; the demo needs none
# of them.
set -euo pipefail

need=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || need+=(chromium)
command -v promtool >/dev/null || need+=(prometheus)
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
	echo "system-deps: install ${need[*]} (the tests run them); no apt-get here to do it" >&2
	exit 1
fi
echo "system-deps: installing ${need[*]}"
sudo_cmd=""
[ "$(id -u)" = 0 ] || sudo_cmd=sudo
$sudo_cmd apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}"
