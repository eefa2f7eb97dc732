# syntax=docker/dockerfile:1
# betterauthz image, for those who build with Docker: the same image `make image` assembles
# without Docker (tools/ocibuild). The build stage runs `make image-rootfs`, which writes the
# files of `make image`'s layers — the static binary of `make build-static`, /etc/passwd and
# /etc/group (nonroot 65532), Debian's CA certificates, /tmp — and the final stage puts them on
# an empty base: no shell, no package manager. The settings below are `make image`'s
# (scripts/build_test.go compares them).
# Build: docker build --build-arg VERSION=$(git describe --tags) --build-arg COMMIT=$(git rev-parse HEAD) -t betterauthz .
ARG GO_IMAGE=golang:1.26-bookworm

# The build stage runs on the builder's platform and cross-compiles (docker buildx --platform
# linux/amd64,linux/arm64 needs no emulation).
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG TARGETARCH
RUN make image-rootfs VERSION="${VERSION}" COMMIT="${COMMIT}" IMAGE_ARCH="${TARGETARCH}" ROOTFS=/out/rootfs

FROM scratch
COPY --from=build /out/rootfs/ /
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="betterauthz" \
      org.opencontainers.image.description="Envoy ext_authz server that verifies Better Auth JWTs and sessions" \
      org.opencontainers.image.source="https://github.com/betterauthz/betterauthz" \
      org.opencontainers.image.url="https://github.com/betterauthz/betterauthz" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
USER 65532:65532
EXPOSE 9000/tcp 8080/tcp
ENTRYPOINT ["/betterauthz"]
