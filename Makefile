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
FUZZ_TARGETS := ./jwks/keyset:FuzzParseSet:30000 ./jwks:FuzzVerify:40000 ./jwks/jws:FuzzParseHeader:20000 \
	./authz:FuzzParseBearer:150000 ./authz/extauthz:FuzzCheck:8000 ./authz:FuzzNormalizePath:20000 \
	./authz:FuzzNormalizeHost:150000 ./authz:FuzzObjectPolicy:6000 ./authz/httpcheck:FuzzForwardAuth:120000 \
	./internal/kube:FuzzAnnotations:5000 ./internal/config:FuzzParse:60000 \
	./authz:FuzzReadCookies:150000 ./session:FuzzParseAnswer:50000 \
	./jwks/claims:FuzzCompactClaims:50000 ./jwks:FuzzValidate:50000

STATIC_OUT ?= bin/betterauthz-static

.PHONY: all build build-static test test-deps lint fuzz fuzz-corpus print-fuzz-targets demo example manifests schema docs bench soak clean

all: build

build:
	$(GO) build -trimpath -tags '$(BUILD_TAGS)' -ldflags '$(LDFLAGS)' -o bin/betterauthz ./cmd/betterauthz

# The exact binary the container image holds (see Dockerfile): static, no cgo, reproducible paths.
build-static:
	CGO_ENABLED=0 $(GO) build -trimpath -tags '$(BUILD_TAGS)' -ldflags '$(LDFLAGS)' -o $(STATIC_OUT) ./cmd/betterauthz

# The Better Auth server the tests and the demo run (pinned in test/betterauth/package-lock.json),
# the Kubernetes API server and etcd the Kubernetes tests run (pinned in tools/go.mod), and the
# Caddy and Traefik the proxy tests run (pinned in scripts/build-tools.sh), built into
# .cache/bin: a few minutes the first time, cached after. nginx, Chromium, promtool and the Task
# example's Python packages come from the system's packages (scripts/system-deps.sh).
test-deps: test/betterauth/node_modules/.package-lock.json
	./scripts/system-deps.sh
	./scripts/build-tools.sh

test/betterauth/node_modules/.package-lock.json: test/betterauth/package-lock.json
	cd test/betterauth && npm ci --no-audit --no-fund --loglevel=error

# go vet, gofmt, and staticcheck with every check (staticcheck.conf; pinned and built into
# .cache/bin by scripts/build-tools.sh).
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	./scripts/build-tools.sh staticcheck
	.cache/bin/staticcheck ./...

test: test-deps lint
	$(GO) test -race -count=1 ./...
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
	rm -rf bin
