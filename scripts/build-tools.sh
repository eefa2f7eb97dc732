#!/usr/bin/env bash
# Builds the programs the tests and the release run, from the Go module proxy, into .cache/bin
# (git-ignored):
#   kube-apiserver, kube-controller-manager, kube-scheduler, etcd, and the real node's kubelet
#     and kube-proxy — pinned in tools/go.mod (one Kubernetes version for all of them)
#   helm, kwok, staticcheck, caddy, egctl, actionlint, cyclonedx-gomod, crane — pinned below, built
#     with `go install module@version` (crane only when named: the release pushes with it)
#   traefik — pinned below, built from its module's source as scripts/traefik-source.sh
#     prepares it (its go.mod has replace directives, which `go install module@version` refuses)
#   ocibuild — the image builder of `make image`, from tools/ocibuild (its own module)
# A binary is rebuilt only when its pin changes. Usage: scripts/build-tools.sh [name...]
# (default: all but crane). The first build takes a few minutes on 2 cores (about 25 CPU-minutes
# for the six Kubernetes binaries); later runs are instant.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

declare -A module_pkgs=(
	[kube-apiserver]=k8s.io/kubernetes/cmd/kube-apiserver
	[kube-controller-manager]=k8s.io/kubernetes/cmd/kube-controller-manager
	[kube-scheduler]=k8s.io/kubernetes/cmd/kube-scheduler
	[etcd]=go.etcd.io/etcd/server/v3
	[kubelet]=k8s.io/kubernetes/cmd/kubelet
	[kube-proxy]=k8s.io/kubernetes/cmd/kube-proxy
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
	# `make lint` checks .github/workflows with it.
	[actionlint]=github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
	# The SBOM of `make dist` (CycloneDX, from the binary's module graph): light beside syft.
	[cyclonedx-gomod]=github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0
	# The release workflow pushes the image's OCI layout with it (never run by the tests).
	[crane]=github.com/google/go-containerregistry/cmd/crane@v0.22.1
)
release_only=(crane)
declare -A local_builds=(
	[ocibuild]=tools/ocibuild
)
# Environment of a build, where the default is not what the binary needs. The node's programs
# are static, as Kubernetes releases them.
declare -A build_env=(
	[kubelet]=CGO_ENABLED=0
	[kube-proxy]=CGO_ENABLED=0
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
	[kubelet]=$kube_ldflags
	[kube-proxy]=$kube_ldflags
	[traefik]="-X github.com/traefik/traefik/v3/pkg/version.Version=v3.7.13"
	[helm]="-X helm.sh/helm/v3/internal/version.version=v3.22.0 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37"
)
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for n in "${!module_pkgs[@]}" "${!installs[@]}" "${!source_builds[@]}" "${!local_builds[@]}"; do
		[[ " ${release_only[*]} " == *" $n "* ]] || names+=("$n")
	done
fi

# built_from_pins NAME: whether .cache/bin/NAME, built from tools/go.mod, is what tools/go.mod
# builds now: the same modules at the same versions, and the same flags and cgo setting. It lets a change to
# tools/go.mod that does not reach a binary (a new tool's modules added) keep that binary,
# instead of rebuilding all six, and it lets worktrees with different tools/go.mod share one
# .cache without rebuilding each other's binaries in turn.
built_from_pins() {
	local name=$1 want have
	want=$(cd tools && env ${build_env[$name]:-} go list -deps -f '{{with .Module}}{{.Path}} {{with .Replace}}{{.Version}}{{else}}{{.Version}}{{end}}{{end}}' "${module_pkgs[$name]}" | sort -u)
	have=$(go version -m "$bin/$name" | awk -F'\t' '$2=="mod"||$2=="dep"{if(p!="")print p; p=$3" "$4} $2=="=>"{sub(/ .*/,"",p); p=p" "$4} END{if(p!="")print p}' | sort -u)
	[ -n "$want" ] && [ "$want" = "$have" ] || return 1
	# -trimpath keeps -ldflags out of the build info: the stamp, written with the binary, has them.
	have=$(cut -d' ' -f2- "$bin/$name.stamp" 2>/dev/null)
	[ "$have" = "$flags" ] || return 1
	want=$(cd tools && env ${build_env[$name]:-} go env CGO_ENABLED)
	go version -m "$bin/$name" | grep -q "^.build.CGO_ENABLED=$want\$"
}

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
	elif [ -n "${local_builds[$name]:-}" ]; then
		stamp="$(cd "${local_builds[$name]}" && cat go.mod go.sum $(ls *.go) | sha256sum | cut -c1-16) $flags"
	else
		echo "unknown tool $name" >&2
		exit 2
	fi
	if [ -x "$bin/$name" ] && [ "$(cat "$bin/$name.stamp" 2>/dev/null)" = "$stamp" ]; then
		continue
	fi
	# Checked once per pins and binary: the stamp stays as it is (another worktree's pins may
	# have written it), a file per verified pair says so.
	verified="$bin/$name.verified-$( (echo "$stamp"; stat -c %Y-%s "$bin/$name" 2>/dev/null || true) | sha256sum | cut -c1-16)"
	if [ -x "$bin/$name" ] && [ -n "${module_pkgs[$name]:-}" ] && { [ -e "$verified" ] || built_from_pins "$name"; }; then
		touch "$verified"
		continue
	fi
	echo "building $name into .cache/bin — a few minutes the first time, cached after" >&2
	start=$SECONDS
	if [ -n "${module_pkgs[$name]:-}" ]; then
		(cd tools && env ${build_env[$name]:-} go build -trimpath -ldflags "$flags" -o "$bin/$name" "${module_pkgs[$name]}")
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
	elif [ -n "${local_builds[$name]:-}" ]; then
		(cd "${local_builds[$name]}" && go build -trimpath -ldflags "$flags" -o "$bin/$name" .)
	else
		tmp=$(mktemp -d)
		(cd "$tmp" && GOBIN="$tmp" GOFLAGS=-mod=mod go install -trimpath -ldflags "$flags" "${installs[$name]}")
		mv "$tmp/$name" "$bin/$name"
		rm -rf "$tmp"
	fi
	rm -f "$bin/$name".verified-*
	echo "$stamp" > "$bin/$name.stamp"
	echo "built $name in $((SECONDS - start))s" >&2
done
