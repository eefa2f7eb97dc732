#!/usr/bin/env bash
# Builds the programs the tests run, from the Go module proxy, into .cache/bin (git-ignored):
#   kube-apiserver, kube-controller-manager, kube-scheduler, etcd — pinned in tools/go.mod
#   helm, kwok, staticcheck, caddy, egctl — pinned below, built with `go install module@version`
#   traefik — pinned below, built from its module's source as scripts/traefik-source.sh
#   prepares it (its go.mod has replace directives, which `go install module@version` refuses)
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
	# Inside the range of GHSA-7r4p-vjf4-gxv4 (2.9.0–2.11.1: forward_auth's copy_headers keeps a
	# client's header when the auth answer omits it) on purpose: the proxy tests prove that the
	# shipped Caddyfile is safe even there.
	[caddy]=github.com/caddyserver/caddy/v2/cmd/caddy@v2.10.2
	# Envoy Gateway's CLI: its `x translate` runs Envoy Gateway's own translator on the shipped
	# SecurityPolicies (manifests/envoygateway_test.go). The same version as the CRDs the tests
	# install (internal/testenv/kubeapi/crds.go).
	[egctl]=github.com/envoyproxy/gateway/cmd/egctl@v1.9.1
)
declare -A source_builds=(
	[traefik]=github.com/traefik/traefik/v3@v3.7.13:./cmd/traefik
)
# Version stamps that release builds set and `go build` alone does not: without them the
# Kubernetes servers report v0.0.0 and Helm assumes Kubernetes 1.20, and charts with a
# kubeVersion constraint are refused.
kube_ldflags="-X k8s.io/component-base/version.gitVersion=v1.37.2 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37"
declare -A ldflags=(
	[kube-apiserver]=$kube_ldflags
	[kube-controller-manager]=$kube_ldflags
	[kube-scheduler]=$kube_ldflags
	[traefik]="-X github.com/traefik/traefik/v3/pkg/version.Version=v3.7.13"
	[helm]="-X helm.sh/helm/v3/internal/version.version=v3.22.0 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37"
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${!module_pkgs[@]}" "${!installs[@]}" "${!source_builds[@]}")

bin=$PWD/.cache/bin
mkdir -p "$bin"
tools_stamp=$(cat tools/go.mod tools/go.sum | sha256sum | cut -c1-16)
for name in "${names[@]}"; do
	flags="-s -w ${ldflags[$name]:-}"
	if [ -n "${module_pkgs[$name]:-}" ]; then
		stamp="$tools_stamp $flags"
	elif [ -n "${installs[$name]:-}" ]; then
		stamp="${installs[$name]} $flags"
	elif [ -n "${source_builds[$name]:-}" ]; then
		stamp="${source_builds[$name]} $flags $(sha256sum "scripts/$name-source.sh" | cut -c1-16)"
	else
		echo "unknown tool $name" >&2
		exit 2
	fi
	if [ -x "$bin/$name" ] && [ "$(cat "$bin/$name.stamp" 2>/dev/null)" = "$stamp" ]; then
		continue
	fi
	echo "building $name into .cache/bin — a few minutes the first time, cached after" >&2
	start=$SECONDS
	if [ -n "${module_pkgs[$name]:-}" ]; then
		(cd tools && go build -trimpath -ldflags "$flags" -o "$bin/$name" "${module_pkgs[$name]}")
	elif [ -n "${source_builds[$name]:-}" ]; then
		spec=${source_builds[$name]}
		module=${spec%%:*}
		pkg=${spec#*:}
		dir=$(go mod download -json "$module" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
		[ -n "$dir" ] || { echo "go mod download $module: no source directory" >&2; exit 1; }
		tmp=$(mktemp -d)
		"./scripts/$name-source.sh" "$dir" "$tmp"
		(cd "$tmp/$name" && GOFLAGS=-mod=mod go build -trimpath -ldflags "$flags" -o "$tmp/$name.bin" "$pkg")
		mv "$tmp/$name.bin" "$bin/$name"
		rm -rf "$tmp"
	else
		tmp=$(mktemp -d)
		(cd "$tmp" && GOBIN="$tmp" GOFLAGS=-mod=mod go install -trimpath -ldflags "$flags" "${installs[$name]}")
		mv "$tmp/$name" "$bin/$name"
		rm -rf "$tmp"
	fi
	echo "$stamp" > "$bin/$name.stamp"
	echo "built $name in $((SECONDS - start))s" >&2
done
