// Module ocibuild is the container image builder of `make image` and `make dist`
// (scripts/build-tools.sh builds it into .cache/bin), apart from the main module so that the
// main go.mod stays free of go-containerregistry, and apart from ../go.mod so that its
// dependencies never move the versions the Kubernetes test binaries are built with.
module github.com/betterauthz/betterauthz/tools/ocibuild

go 1.26.0

require github.com/google/go-containerregistry v0.22.1

require (
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
	golang.org/x/sync v0.22.0 // indirect
)
