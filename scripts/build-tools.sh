#!/usr/bin/env bash
# Builds the servers the Kubernetes tests run (kube-apiserver, etcd, ...) from the Go module
# proxy, pinned in tools/go.mod, into .cache/bin (git-ignored). A binary is rebuilt only when
# tools/go.mod or tools/go.sum change. Usage: scripts/build-tools.sh [name...] (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

declare -A pkgs=(
	[kube-apiserver]=k8s.io/kubernetes/cmd/kube-apiserver
	[etcd]=go.etcd.io/etcd/server/v3
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${!pkgs[@]}")

bin=.cache/bin
mkdir -p "$bin"
stamp=$(cat tools/go.mod tools/go.sum | sha256sum | cut -c1-16)
for name in "${names[@]}"; do
	pkg=${pkgs[$name]:?unknown tool $name}
	if [ -x "$bin/$name" ] && [ "$(cat "$bin/$name.stamp" 2>/dev/null)" = "$stamp" ]; then
		continue
	fi
	echo "building $name ($pkg) into $bin — a few minutes the first time, cached after" >&2
	(cd tools && go build -trimpath -ldflags '-s -w' -o "../$bin/$name" "$pkg")
	echo "$stamp" > "$bin/$name.stamp"
done
