# syntax=docker/dockerfile:1
#
# The pruneguard image: a static binary on distroless "static" as the nonroot user.
#   make docker-build                        # VERSION from git describe
#   docker build --build-arg VERSION=v0.1.0 -t ghcr.io/pruneguard/pruneguard:v0.1.0 .
# Multi-platform: docker buildx build --platform linux/amd64,linux/arm64 ... (the build stage
# runs on the build machine and cross-compiles, so no emulation is needed).

# Go version of go.mod's go directive.
ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
# VERSION is stamped into the binary (`pruneguard version`); the Makefile passes git describe.
ARG VERSION=dev
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# CGO_ENABLED=0: a static binary that runs on distroless static (no libc). -trimpath and
# -buildvcs=false make the build independent of where it ran; the version comes from VERSION.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/pruneguard/pruneguard/pkg/version.Version=${VERSION}" \
      -o /out/pruneguard ./cmd/pruneguard

# distroless static: CA certificates, tzdata and /etc/passwd with the nonroot user (65532), no
# shell and no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="pruneguard" \
      org.opencontainers.image.description="Continuous, race-free image pruning for OpenShift and Kubernetes" \
      org.opencontainers.image.source="https://github.com/pruneguard/pruneguard" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/pruneguard /usr/local/bin/pruneguard
# Numeric, so that runAsNonRoot can verify it without resolving a user name.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/pruneguard"]
