# syntax=docker/dockerfile:1
# betterauthz image: a static binary on distroless (no shell, no package manager), non-root.
# The build stage runs the same `make build-static` that CI runs and tests, so the binary here is
# the one CI proved. Build: docker build --build-arg VERSION=$(git describe --tags) -t betterauthz .
#
# The final base is pinned by digest (update it deliberately, e.g. with Renovate); the tag next to
# it says what it is.
ARG GO_IMAGE=golang:1.26-bookworm
ARG BASE_IMAGE=gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN make build-static VERSION="${VERSION}" COMMIT="${COMMIT}" STATIC_OUT=/out/betterauthz

FROM ${BASE_IMAGE}
COPY --from=build /out/betterauthz /betterauthz
USER 65532:65532
EXPOSE 9000 8080
ENTRYPOINT ["/betterauthz"]
