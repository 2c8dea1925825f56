// Package deploy holds what running Stead outside `stead dev` needs beside
// the binary: Temporal's dynamic config for docker-compose.yml
// (deploy/temporal) and the module that builds the Temporal server and
// schema tool Stead's tests run (deploy/tools). Its tests check the compose
// files and the Dockerfile at the repository's root: they parse, every
// image is pinned, no secret is written in them, and every service the
// README's Production section names exists.
package deploy
