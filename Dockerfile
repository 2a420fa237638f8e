# ariapp container image. Build context: the repository root.
#   docker build -t ariapp:local --build-arg VERSION=$(git describe --always) .
#   docker run -e ARIAPP_ARI_URL=http://pbx:8088/ari -e ARIAPP_ARI_PASSWORD=... \
#     -e ARIAPP_API_LISTEN=0.0.0.0:8090 -p 127.0.0.1:8090:8090 ariapp:local
# The image carries the repository's config.yaml as /etc/ariapp/config.yaml
# (ARI on 127.0.0.1, the API on the container's loopback); mount another
# file there, or override keys with ARIAPP_* variables (docker-compose.yml
# does). Where no image can be pulled, lab/compose.sh builds the two base
# images below from Debian's packages and the machine's Go.

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
