#!/bin/sh
# Regenerates watch.pb.go and watch_grpc.pb.go (run by go generate).
# Needs protoc, protoc-gen-go v1.36.12 and protoc-gen-go-grpc on PATH.
# The Envoy and well-known imports come from the descriptors linked into
# Go (see ../gloo/internal/protodeps).
set -eu
cd "$(dirname "$0")"
deps=$(mktemp)
trap 'rm -f "$deps"' EXIT
(cd ../gloo && go run ./internal/protodeps "$deps")
protoc --descriptor_set_in="$deps" -I .. \
	--go_out=.. --go_opt=paths=source_relative \
	--go-grpc_out=.. --go-grpc_opt=paths=source_relative \
	watch/watch.proto
