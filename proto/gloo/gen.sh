#!/bin/sh
# Regenerates gloo_tap.pb.go and gloo_tap_grpc.pb.go (run by go generate).
# Needs protoc, protoc-gen-go v1.36.12 and protoc-gen-go-grpc on PATH.
# The Envoy imports come from go-control-plane's registered descriptors
# (see internal/protodeps), so no data-plane-api checkout is needed.
set -eu
cd "$(dirname "$0")"
deps=$(mktemp)
trap 'rm -f "$deps"' EXIT
go run ./internal/protodeps "$deps"
protoc --descriptor_set_in="$deps" -I .. \
	--go_out=.. --go_opt=paths=source_relative \
	--go-grpc_out=.. --go-grpc_opt=paths=source_relative \
	gloo/gloo_tap.proto
