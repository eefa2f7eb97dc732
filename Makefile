# betterauthz — see README.md. `make demo` runs the local demo, `make test` runs every test.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -s -w -X github.com/betterauthz/betterauthz/internal/cli.Version=$(VERSION) -X github.com/betterauthz/betterauthz/internal/cli.Commit=$(COMMIT)
# grpcnotrace: gRPC without golang.org/x/net/trace (its /debug/requests pages, off unless
# grpc.EnableTracing is set, which betterauthz never does). That package imports html/template,
# whose reflective method calls stop the linker from dropping unused methods of every type:
# 4 MiB of binary and 2.5 MiB of resident memory per process.
BUILD_TAGS := grpcnotrace
# `make fuzz` runs each target for a fixed number of inputs (about five seconds' worth here), not
# for a duration: a duration-limited run can fail at its deadline with "context deadline
# exceeded" and no crasher, a race in Go 1.26's fuzz coordinator (go.dev/issue/75804, fixed in
# Go 1.27). FUZZTIME overrides every count, e.g. `FUZZTIME=1m make fuzz` or `FUZZTIME=500000x`.
FUZZTIME ?=
# package:target:inputs triples run by `make fuzz`: every parser of outside input. Their corpora
# are committed under <package>/testdata/fuzz/ (scripts/fuzz-corpus.sh grows them), so plain
# `go test` replays them too.
FUZZ_TARGETS := ./jwks/keyset:FuzzParseSet:30000 ./jwks:FuzzVerify:40000 ./jwks/jws:FuzzParseHeader:20000 ./jwks/jws:FuzzPeekType:20000 \
	./authz:FuzzParseBearer:150000 ./authz/extauthz:FuzzCheck:8000 ./authz/extauthz:FuzzLeanDecode:50000 \
	./authz/extauthz:FuzzEncodedAnswer:20000 ./authz:FuzzNormalizePath:20000 \
	./authz:FuzzNormalizeHost:150000 ./authz:FuzzObjectPolicy:6000 ./authz/httpcheck:FuzzForwardAuth:120000 \
	./internal/kube:FuzzAnnotations:5000 ./internal/config:FuzzParse:60000 \
	./authz:FuzzReadCookies:150000 ./session:FuzzParseAnswer:50000 \
	./jwks/claims:FuzzCompactClaims:50000 ./jwks:FuzzValidate:50000 \
	./jwks/relay:FuzzServe:50000 \
	./session:FuzzParseRole:50000 ./authz:FuzzBanInForce:50000 ./introspect:FuzzParseAnswer:50000

STATIC_OUT ?= bin/betterauthz-static

# The container image. `make image` writes a docker-archive tarball of this machine's
# architecture, tagged $(IMAGE_REPO):$(IMAGE_TAG), that `ctr -n k8s.io images import` and
# `docker load` take: the `make build-static` binary, run as 65532, with /etc/passwd, the CA
# certificates and /tmp, and nothing else (no shell). No Docker engine and no registry: the image
# is assembled by tools/ocibuild (go-containerregistry). The Dockerfile builds the same image with
# Docker, from `make image-rootfs`. Image tags drop the version's v (v0.1.0 -> 0.1.0), as the
# chart's appVersion does.
IMAGE_REPO ?= ghcr.io/betterauthz/betterauthz
IMAGE_TAG ?= $(patsubst v%,%,$(VERSION))
IMAGE_OUT ?= bin/betterauthz-image.tar
IMAGE_ARCH ?=
# An empty IMAGE_ARCH (the Dockerfile's TARGETARCH outside BuildKit) is this machine's.
image_arch = $(or $(IMAGE_ARCH),$(shell $(GO) env GOARCH))
ROOTFS ?= bin/rootfs
CA_BUNDLE ?= $(firstword $(wildcard /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem))
# Every time in the image and the release archives is the commit's: the same commit gives the
# same bytes.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH
OCIBUILD = .cache/bin/ocibuild -tag $(IMAGE_REPO):$(IMAGE_TAG) -entrypoint /betterauthz -user 65532:65532 \
	-port 9000/tcp -port 8080/tcp -ca-bundle $(CA_BUNDLE) \
	-label org.opencontainers.image.title=betterauthz \
	-label 'org.opencontainers.image.description=Envoy ext_authz server that verifies Better Auth JWTs and sessions' \
	-label org.opencontainers.image.source=https://github.com/betterauthz/betterauthz \
	-label org.opencontainers.image.url=https://github.com/betterauthz/betterauthz \
	-label org.opencontainers.image.licenses=Apache-2.0 \
	-label org.opencontainers.image.version=$(VERSION) \
	-label org.opencontainers.image.revision=$(COMMIT)
IMAGE_BIN = bin/image/betterauthz-linux-$(image_arch)
# Release artifacts (`make dist`, see scripts/dist.sh); DIST must not exist yet.
DIST ?= dist

.PHONY: all build build-static image image-rootfs image-layout dist test test-deps lint fuzz fuzz-corpus print-fuzz-targets demo example manifests schema docs bench soak clean

all: build

build:
	@[ -x bin/betterauthz ] || echo "==> building bin/betterauthz: the first build compiles every dependency, a few minutes on 2 cores; later builds take seconds"
	$(GO) build -trimpath -tags '$(BUILD_TAGS)' -ldflags '$(LDFLAGS)' -o bin/betterauthz ./cmd/betterauthz

# The exact binary the container image holds (see Dockerfile): static, no cgo, reproducible paths.
build-static:
	CGO_ENABLED=0 $(GO) build -trimpath -tags '$(BUILD_TAGS)' -ldflags '$(LDFLAGS)' -o $(STATIC_OUT) ./cmd/betterauthz

image:
	GOOS=linux GOARCH=$(image_arch) $(MAKE) --no-print-directory build-static STATIC_OUT=$(IMAGE_BIN)
	@./scripts/build-tools.sh ocibuild
	@echo "==> $(IMAGE_OUT): $(IMAGE_REPO):$(IMAGE_TAG), linux/$(image_arch)"
	@$(OCIBUILD) -binary linux/$(image_arch)=$(IMAGE_BIN) -docker-archive $(IMAGE_OUT)

# The image's files in $(ROOTFS), a new directory: the Dockerfile copies them onto scratch.
image-rootfs:
	GOOS=linux GOARCH=$(image_arch) $(MAKE) --no-print-directory build-static STATIC_OUT=$(IMAGE_BIN)
	@./scripts/build-tools.sh ocibuild
	@$(OCIBUILD) -binary linux/$(image_arch)=$(IMAGE_BIN) -rootfs $(ROOTFS)

# The multi-arch image as an OCI layout in $(IMAGE_LAYOUT), a new directory, from
# IMAGE_BINARIES="linux/amd64=PATH linux/arm64=PATH" (make dist runs it).
image-layout:
	@./scripts/build-tools.sh ocibuild
	@$(OCIBUILD) $(foreach b,$(IMAGE_BINARIES),-binary $(b)) -oci-layout $(IMAGE_LAYOUT)

# Every release artifact in $(DIST): binaries and checksums, the multi-arch image as an OCI
# layout, the chart package, the SBOM (scripts/dist.sh). The release workflow publishes them;
# `make test` builds them too. VERSION must be a release version, e.g. `make dist VERSION=v0.1.0`.
dist:
	VERSION=$(VERSION) COMMIT=$(COMMIT) IMAGE_REPO=$(IMAGE_REPO) ./scripts/dist.sh $(DIST)

# The Better Auth server the tests and the demo run (pinned in test/betterauth/package-lock.json),
# the Kubernetes API server and etcd the Kubernetes tests run (pinned in tools/go.mod), and the
# Caddy and Traefik the proxy tests run (pinned in scripts/build-tools.sh), built into
# .cache/bin: a few minutes the first time, cached after. nginx, Chromium, promtool and the Task
# example's Python packages come from the system's packages (scripts/system-deps.sh).
test-deps: test/betterauth/node_modules/.package-lock.json
	./scripts/system-deps.sh
	./scripts/build-tools.sh

test/betterauth/node_modules/.package-lock.json: test/betterauth/package-lock.json
	@echo "==> installing the bundled Better Auth server's node packages (npm ci, test/betterauth)"
	cd test/betterauth && npm ci --no-audit --no-fund --loglevel=error

# go vet, gofmt, and staticcheck with every check (staticcheck.conf) on both modules (the main
# one and tools/ocibuild, the image builder), and actionlint on .github/workflows; the linters
# are pinned and built into .cache/bin by scripts/build-tools.sh.
lint:
	$(GO) vet ./...
	cd tools/ocibuild && $(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	./scripts/build-tools.sh staticcheck actionlint
	.cache/bin/staticcheck ./...
	cd tools/ocibuild && ../../.cache/bin/staticcheck ./...
	.cache/bin/actionlint

# -timeout: a package's tests may take longer than go test's default 10 minutes on a cold, busy
# 2-core machine (scripts builds every release artifact; test/realnode builds the image and runs
# a node).
test: test-deps lint
	$(GO) test -race -count=1 -timeout 30m ./...
	$(MAKE) docs
	$(MAKE) fuzz

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		IFS=: read -r pkg name inputs <<<"$$t"; limit=$${FUZZTIME:-$${inputs}x}; \
		echo "fuzz $$pkg $$name for $$limit"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime "$$limit" $$pkg || exit 1; \
	done

# Longer fuzzing that also grows the committed corpora, e.g. `make fuzz-corpus FUZZTIME=10m`.
fuzz-corpus:
	FUZZTIME=$(or $(FUZZTIME),1m) ./scripts/fuzz-corpus.sh $(FUZZ_TARGETS)

print-fuzz-targets:
	@echo $(FUZZ_TARGETS)

# manifests/install.yaml, rendered from the chart (a test fails when it is stale).
manifests:
	./scripts/render-manifests.sh

# The config's JSON Schema, generated from the Go config types: docs/config.schema.json (for
# editors) and the `config` value of charts/betterauthz/values.schema.json (a test fails when
# either is stale).
schema:
	$(GO) run ./internal/config/schema/gen

# The docs' reference pages generated from the code (docs/reference/; a test fails when they are
# stale), then the site (mkdocs.yml) built into site/ with --strict: a broken link or a page
# missing from nav fails. mkdocs comes from Debian (scripts/system-deps.sh).
docs:
	$(GO) run ./internal/reference/gen
	mkdocs build --strict --quiet

# End-to-end benchmark: writes docs/benchmarks.md (see bench/main.go).
bench: build-static test/betterauth/node_modules/.package-lock.json
	$(GO) build -o bin/bench ./bench
	./bin/bench $(BENCH_FLAGS)

# Soak test, not run in CI (see bench/soak/main.go): bin/betterauthz for $(SOAK) under a steady
# token mix while its JWKS misbehaves (internal/testenv/faultjwks), its config is reloaded and
# Better Auth rotates keys; it fails on any wrong decision and on goroutine or heap growth, and
# prints a markdown summary. `make soak SOAK=1h` by hand for a long run; with SOAK_OUT set to
# anything (`make soak SOAK_OUT=1`) the summary also replaces the soak section of
# docs/benchmarks.md. SOAK_FLAGS passes more flags, e.g. SOAK_FLAGS=-conns=4.
SOAK ?= 2m
soak: build test/betterauth/node_modules/.package-lock.json
	$(GO) build -o bin/soak ./bench/soak
	./bin/soak -duration $(SOAK) $(if $(SOAK_OUT),-out docs/benchmarks.md) $(SOAK_FLAGS)

demo: build test/betterauth/node_modules/.package-lock.json
	./scripts/demo.sh

# The Task example (examples/tasks): the seed's FastAPI app behind nginx and betterauthz, with
# Better Auth, on loopback. It needs nginx and Debian's python3-fastapi, python3-uvicorn and
# python3-sqlmodel, which `system-deps.sh example` installs when missing (make demo needs none).
example: build test/betterauth/node_modules/.package-lock.json
	./scripts/system-deps.sh example
	./scripts/example.sh

clean:
	rm -rf bin dist
