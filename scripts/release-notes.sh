#!/usr/bin/env bash
# Prints the GitHub release notes of VERSION (e.g. 0.1.0): its CHANGELOG.md section, then how to
# install and verify what the release publishes. The release workflow calls it; `make test`
# checks it for the current version (scripts/dist_test.go). Usage: scripts/release-notes.sh VERSION
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: scripts/release-notes.sh VERSION}
section=$(awk -v v="$version" '
	/^## \[/ { if (found) exit; if (index($0, "## [" v "]") == 1) { found = 1; next } }
	found { print }' CHANGELOG.md)
if [ -z "$(echo "$section" | tr -d '[:space:]')" ]; then
	echo "release-notes: CHANGELOG.md has no section [$version], or it is empty" >&2
	exit 1
fi
cat <<NOTES
$section

## Install

\`\`\`sh
helm install betterauthz oci://ghcr.io/betterauthz/charts/betterauthz --version $version \\
  --namespace betterauthz --create-namespace --set betterAuthURL=https://auth.example.com
\`\`\`

The image is \`ghcr.io/betterauthz/betterauthz:$version\` (linux/amd64, linux/arm64). Verify its
signature, made by this repository's release workflow:

\`\`\`sh
cosign verify ghcr.io/betterauthz/betterauthz:$version \\
  --certificate-identity-regexp '^https://github.com/betterauthz/betterauthz/.github/workflows/release.yml@refs/tags/v' \\
  --certificate-oidc-issuer https://token.actions.githubusercontent.com
\`\`\`

The binaries below come with \`checksums.txt\` (\`sha256sum -c checksums.txt --ignore-missing\`), a
CycloneDX SBOM each, and build provenance (\`gh attestation verify FILE --repo betterauthz/betterauthz\`).
NOTES
