# ariapp container image. Build context: the repository root.
#   docker build -t ariapp:local --build-arg VERSION=$(git describe --always) .
#   docker run --network host -e ARIAPP_ARI_PASSWORD=... ariapp:local
# The image carries the repository's config.yaml as /etc/ariapp/config.yaml;
# mount another file there, or override keys with ARIAPP_* variables.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/ariapp ./cmd/ariapp

FROM debian:trixie-slim
COPY --from=build /out/ariapp /ariapp
COPY config.yaml /etc/ariapp/config.yaml
# ariapp needs no privileges: run as nobody.
USER 65534:65534
ENTRYPOINT ["/ariapp"]
CMD ["--config", "/etc/ariapp/config.yaml"]
