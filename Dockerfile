# The stead binary, static, in two images:
#   default target: FROM scratch, non-root (uid 65532): workers,
#     codec-server and the namespace-setup job of docker-compose.yml;
#   target dev: Debian slim with a shell, for `stead dev`, whose node
#     "local" runs shell scripts in the container (docker-compose.dev.yml).
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/stead-io/stead/cli.Version=${VERSION}" -o /out/stead ./cmd/stead \
 && mkdir -p /out/home/output \
 && echo 'stead:x:65532:65532:stead:/var/lib/stead:/nonexistent' > /out/passwd \
 && echo 'stead:x:65532:' > /out/group

FROM debian:12.12-slim AS dev
RUN useradd --system --uid 65532 --user-group --create-home --home-dir /var/lib/stead stead
COPY --from=build /out/stead /usr/local/bin/stead
USER 65532:65532
WORKDIR /var/lib/stead
ENTRYPOINT ["/usr/local/bin/stead"]

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/passwd /etc/passwd
COPY --from=build /out/group /etc/group
COPY --from=build --chown=65532:65532 /out/home /var/lib/stead
COPY --from=build /out/stead /usr/local/bin/stead
USER 65532:65532
WORKDIR /var/lib/stead
ENV HOME=/var/lib/stead
ENTRYPOINT ["/usr/local/bin/stead"]
