// Package pcap holds the generated Go code for the Cloud Foundry
// pcap-release gRPC contract (services pcap.Agent and pcap.API), so tapview
// can be both a client of pcap agents/APIs and an agent itself without
// importing pcap-release, which needs cgo and is not served by the module
// proxy.
package pcap

// CompatibilityLevel is the contract level this copy implements; agents
// answer it in StatusResponse and APIs refuse agents below it.
const CompatibilityLevel = 1

//go:generate protoc -I=. -I=/usr/include --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative pcap.proto
