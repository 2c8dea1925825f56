# The stead binary in a small image: `stead dev` as a server, or
# `stead worker` near the hosts it manages. Build with `docker compose build`.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -ldflags '-s -w' -o /out/stead ./cmd/stead

FROM debian:bookworm-slim
RUN useradd --system --create-home --home-dir /var/lib/stead stead
COPY --from=build /out/stead /usr/local/bin/stead
USER stead
WORKDIR /var/lib/stead
ENTRYPOINT ["/usr/local/bin/stead"]
