#!/usr/bin/env bash
# Builds the programs the tests run, from the Go module proxy, into .cache/bin (git-ignored):
#   kube-apiserver, kube-controller-manager, kube-scheduler, etcd — pinned in tools/go.mod
#   helm, kwok, staticcheck — pinned below, built with `go install module@version`
# A binary is rebuilt only when its pin changes. Usage: scripts/build-tools.sh [name...]
# (default: all). The first build takes a few minutes on 2 cores; later runs are instant.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

declare -A module_pkgs=(
	[kube-apiserver]=k8s.io/kubernetes/cmd/kube-apiserver
	[kube-controller-manager]=k8s.io/kubernetes/cmd/kube-controller-manager
	[kube-scheduler]=k8s.io/kubernetes/cmd/kube-scheduler
	[etcd]=go.etcd.io/etcd/server/v3
)
declare -A installs=(
	[helm]=helm.sh/helm/v3/cmd/helm@v3.22.0
	[kwok]=sigs.k8s.io/kwok/cmd/kwok@v0.8.0
	[staticcheck]=honnef.co/go/tools/cmd/staticcheck@v0.8.2
)
# Version stamps that release builds set and `go build` alone does not: without them the
# Kubernetes servers report v0.0.0 and Helm assumes Kubernetes 1.20, and charts with a
# kubeVersion constraint are refused.
kube_ldflags="-X k8s.io/component-base/version.gitVersion=v1.37.2 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37"
declare -A ldflags=(
	[kube-apiserver]=$kube_ldflags
	[kube-controller-manager]=$kube_ldflags
	[kube-scheduler]=$kube_ldflags
	[helm]="-X helm.sh/helm/v3/internal/version.version=v3.22.0 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37"
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${!module_pkgs[@]}" "${!installs[@]}")

bin=$PWD/.cache/bin
mkdir -p "$bin"
tools_stamp=$(cat tools/go.mod tools/go.sum | sha256sum | cut -c1-16)
for name in "${names[@]}"; do
	flags="-s -w ${ldflags[$name]:-}"
	if [ -n "${module_pkgs[$name]:-}" ]; then
		stamp="$tools_stamp $flags"
	elif [ -n "${installs[$name]:-}" ]; then
		stamp="${installs[$name]} $flags"
	else
		echo "unknown tool $name" >&2
		exit 2
	fi
	if [ -x "$bin/$name" ] && [ "$(cat "$bin/$name.stamp" 2>/dev/null)" = "$stamp" ]; then
		continue
	fi
	echo "building $name into .cache/bin — a few minutes the first time, cached after" >&2
	if [ -n "${module_pkgs[$name]:-}" ]; then
		(cd tools && go build -trimpath -ldflags "$flags" -o "$bin/$name" "${module_pkgs[$name]}")
	else
		tmp=$(mktemp -d)
		(cd "$tmp" && GOBIN="$tmp" GOFLAGS=-mod=mod go install -trimpath -ldflags "$flags" "${installs[$name]}")
		mv "$tmp/$name" "$bin/$name"
		rm -rf "$tmp"
	fi
	echo "$stamp" > "$bin/$name.stamp"
done
