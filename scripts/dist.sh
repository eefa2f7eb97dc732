#!/usr/bin/env bash
# Builds every release artifact into DIST (default dist/, which must not exist yet): what
# .github/workflows/release.yml publishes, and what `make test` builds and checks
# (scripts/dist_test.go). Run it as `make dist VERSION=v0.1.0`.
#
#   betterauthz_<version>_<os>_<arch>.tar.gz   the static binary (linux and darwin, amd64 and
#                                              arm64) with LICENSE, README.md and CHANGELOG.md
#   betterauthz_<version>_<os>_<arch>.cdx.json its CycloneDX SBOM (the modules linked into it)
#   image/                                     OCI image layout: one index, linux/amd64 and
#                                              linux/arm64, tagged IMAGE_REPO:<version without v>
#   betterauthz-<version without v>.tgz        the Helm chart, version and appVersion set
#   checksums.txt                              SHA-256 of every file above but image/
#
# Environment: VERSION (a release version: vMAJOR.MINOR.PATCH, optionally -PRERELEASE),
# COMMIT, IMAGE_REPO (default ghcr.io/betterauthz/betterauthz), SOURCE_DATE_EPOCH (every time
# in the archives and the image; default the commit's). Nothing is pushed or signed here.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

out=${1:-dist}
version=${VERSION:?VERSION is required, e.g. make dist VERSION=v0.1.0}
if ! [[ $version =~ ^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$ ]]; then
	echo "dist: VERSION=$version is not a release version (vMAJOR.MINOR.PATCH[-PRERELEASE], e.g. v0.1.0)" >&2
	exit 2
fi
plain=${version#v}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
if [ -e "$out" ]; then
	echo "dist: $out exists: remove it, or give another directory" >&2
	exit 2
fi
mkdir -p "$out"
./scripts/build-tools.sh helm ocibuild cyclonedx-gomod
tools=$PWD/.cache/bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for platform in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64; do
	os=${platform%/*} arch=${platform#*/}
	name=betterauthz_${version}_${os}_${arch}
	echo "dist: $name" >&2
	mkdir -p "$work/$name"
	GOOS=$os GOARCH=$arch make --no-print-directory build-static VERSION="$version" COMMIT="${COMMIT:-}" STATIC_OUT="$work/$name/betterauthz" >/dev/null
	cp LICENSE README.md CHANGELOG.md "$work/$name/"
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" -C "$work/$name" -cf - . |
		gzip -9n >"$out/$name.tar.gz"
	# The module proxy is not asked: every module is in the cache after the build, and the
	# release's own version is not published yet. GOOS and GOARCH: the SBOM names the
	# binary's platform from them, not from the binary.
	GOPROXY=off GOOS=$os GOARCH=$arch "$tools/cyclonedx-gomod" bin -json -licenses -noserial -notimestamp -version "$version" \
		-output "$out/$name.cdx.json" "$work/$name/betterauthz" 2>"$work/sbom.log" ||
		{ cat "$work/sbom.log" >&2; exit 1; }
done

echo "dist: image/ (linux/amd64, linux/arm64)" >&2
make --no-print-directory image-layout VERSION="$version" COMMIT="${COMMIT:-}" IMAGE_LAYOUT="$out/image" \
	IMAGE_BINARIES="linux/amd64=$work/betterauthz_${version}_linux_amd64/betterauthz linux/arm64=$work/betterauthz_${version}_linux_arm64/betterauthz" >&2

echo "dist: betterauthz-$plain.tgz" >&2
"$tools/helm" package charts/betterauthz --version "$plain" --app-version "$plain" -d "$out" >/dev/null

(cd "$out" && sha256sum -- *.tar.gz *.cdx.json *.tgz >checksums.txt)
echo "dist: $(ls "$out" | wc -l) artifacts in $out" >&2
