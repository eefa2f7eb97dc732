#!/usr/bin/env bash
# Prepares a buildable source tree of Traefik from its module in the Go module proxy, for the
# proxy tests (scripts/build-tools.sh calls it). Usage: scripts/traefik-source.sh MODULE_DIR OUT_DIR
#
# `go install github.com/traefik/traefik/v3/cmd/traefik@VERSION` is refused (its go.mod has
# replace directives), and building the module's own source fails here for three reasons, each
# patched below and none touching the code the tests exercise (entry points, routers,
# forwardAuth, the reverse proxy):
#   1. go.mod replaces github.com/traefik/traefik/dynamic/ext with ./pkg/config/dynamic/ext, a
#      nested module that the module zip leaves out. Upstream it is two empty structs
#      (extension points for Traefik's enterprise builds); they are recreated as such.
#   2. The containous/go-http-auth fork that go.mod substitutes for abbot/go-http-auth is not
#      served by the module proxy. abbot/go-http-auth v0.4.0 is, and lacks only two of the
#      fork's functions, added: CheckSecret, from the package's own hash comparisons (the same
#      code as its BasicAuth.CheckAuth), and DigestAuth.RequireAuthStale, as RequireAuth (a
#      fresh challenge; v0.4.0 never reports a nonce as stale, so it is never called). Only the
#      basicAuth and digestAuth middlewares use them.
#   3. Thirteen of lego's ACME DNS providers need SDK versions the module proxy does not serve.
#      They are dropped from lego's provider registry (DNS-01 challenges with those vendors
#      then fail to configure; nothing else uses them).
set -euo pipefail
src=$1
out=$2
export GOFLAGS=-mod=mod

mod_dir() { go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'; }

cp -r "$src/." "$out/traefik"
chmod -R u+w "$out/traefik"
cd "$out/traefik"

# 1. the empty extension module
if [ ! -f pkg/config/dynamic/ext/go.mod ]; then
	mkdir -p pkg/config/dynamic/ext
	printf 'module github.com/traefik/traefik/dynamic/ext\n\ngo 1.26.0\n' > pkg/config/dynamic/ext/go.mod
	cat > pkg/config/dynamic/ext/ext.go <<'EOF'
package ext

// HTTP is a dynamic.HTTP extension.
type HTTP struct{}

// Router is a dynamic.Router extension.
type Router struct{}
EOF
fi

# 2. abbot/go-http-auth v0.4.0 plus CheckSecret and RequireAuthStale
auth=$(mod_dir github.com/abbot/go-http-auth@v0.4.0)
cp -r "$auth/." "$out/go-http-auth"
chmod -R u+w "$out/go-http-auth"
rm -f "$out/go-http-auth"/*_test.go
# Its imports (golang.org/x/crypto, golang.org/x/net) are Traefik's own requirements.
printf 'module github.com/abbot/go-http-auth\n\ngo 1.21\n' > "$out/go-http-auth/go.mod"
cat > "$out/go-http-auth/fork.go" <<'EOF'
package auth

import (
	"net/http"
	"strings"
)

// CheckSecret reports whether password matches an htpasswd secret, as BasicAuth.CheckAuth
// compares them (added for this build: the containous fork's function).
func CheckSecret(password, secret string) bool {
	compare := compareFuncs[0].compare
	for _, cmp := range compareFuncs[1:] {
		if strings.HasPrefix(secret, cmp.prefix) {
			compare = cmp.compare
			break
		}
	}
	return compare([]byte(secret), []byte(password)) == nil
}

// RequireAuthStale answers a stale nonce with a fresh challenge (added for this build: the
// fork's method; this version's CheckAuth never reports a nonce as stale).
func (a *DigestAuth) RequireAuthStale(w http.ResponseWriter, r *http.Request) {
	a.RequireAuth(w, r)
}
EOF

# 3. lego without the DNS providers whose SDKs are not served
lego_version=$(sed -n 's/^\tgithub.com\/go-acme\/lego\/v5 \(v[^ ]*\)$/\1/p' go.mod)
lego=$(mod_dir "github.com/go-acme/lego/v5@$lego_version")
cp -r "$lego/." "$out/lego"
chmod -R u+w "$out/lego"
unserved='alidns|aliesa|azion|dnsimple|edgedns|edgeone|huaweicloud|oraclecloud|regfish|sakuracloud|tencentcloud|ucloud|yandexcloud'
reg="$out/lego/providers/dns/zz_gen_dns_providers.go"
# Drop each import, and each `case "name"...:` line together with the return that follows it.
awk -v re="^($unserved)$" '
	/^\t"github.com\/go-acme\/lego\/v5\/providers\/dns\// {
		n = split($0, p, "/"); name = p[n]; gsub(/"/, "", name)
		if (name ~ re) next
	}
	/^\tcase "/ { held = $0; next }
	held != "" {
		line = $0; sub(/^\t\treturn /, "", line); sub(/\..*/, "", line)
		if (line !~ re) { print held; print }
		held = ""; next
	}
	{ print }
' "$reg" > "$reg.new"
mv "$reg.new" "$reg"
rm -f "$out/lego/providers/dns/dns_providers_test.go"

go mod edit -replace "github.com/abbot/go-http-auth=$out/go-http-auth" -replace "github.com/go-acme/lego/v5=$out/lego"
