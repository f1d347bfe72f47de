# syntax=docker/dockerfile:1
#
# Production images of the bridge: one build stage, one final stage per process.
#
#   docker build --target worker  -t igdirect/worker .
#   docker build --target ingress -t igdirect/ingress .
#
# docker-compose.yml builds both (README "Production deployment"). The binaries are static
# (CGO off) and run on distroless/static as uid 65532 (nonroot): no shell, no package
# manager; CA certificates and tzdata are in the base image (the clients call HTTPS APIs).

# The Go toolchain is the patch release of go.mod's toolchain line (deploy/ tests keep the
# two equal): security fixes of the standard library arrive in patch releases.
#
# Image digests: these are tags, not yet digests. Tags can be moved; production builds
# should name both images by digest (name:tag@sha256:…). The digests could not be read
# when this was written (no container registry is reachable from the machine it was
# written on), and an invented one would be worse than none. Get them with
#   docker buildx imagetools inspect golang:1.26.11
#   docker buildx imagetools inspect gcr.io/distroless/static:nonroot
# and build with --build-arg GO_IMAGE=golang:1.26.11@sha256:<digest>
#              --build-arg RUNTIME_IMAGE=gcr.io/distroless/static:nonroot@sha256:<digest>
ARG GO_VERSION=1.26.11
ARG GO_IMAGE=golang:${GO_VERSION}
ARG RUNTIME_IMAGE=gcr.io/distroless/static:nonroot

FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
ENV CGO_ENABLED=0
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
# deploy/healthcheck probes ingress's /healthz for HEALTHCHECK: distroless has no curl/wget.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false -ldflags='-s -w' -o /out/ \
      ./worker ./ingress/cmd/ingress ./deploy/healthcheck

# Temporal worker: workflows and activities. It refuses to start until the search
# attributes exist on the namespace (docker-compose.yml runs temporal-setup first).
FROM ${RUNTIME_IMAGE} AS worker
COPY --from=build /out/worker /usr/local/bin/worker
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/worker"]

# HTTP server: webhooks, admin API, /healthz (liveness), /readyz (Temporal + PostgreSQL).
FROM ${RUNTIME_IMAGE} AS ingress
COPY --from=build /out/ingress /usr/local/bin/ingress
COPY --from=build /out/healthcheck /usr/local/bin/healthcheck
USER nonroot:nonroot
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/healthcheck"]
ENTRYPOINT ["/usr/local/bin/ingress"]
