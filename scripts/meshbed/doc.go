// Command meshbed is the service-mesh test bed's programs (issue 18): a
// sidecar proxy of Envoy's behaviour under Istio's iptables rules
// (SO_ORIGINAL_DST, pooled upstream connections, mTLS with Istio's SNI
// and ALPN, a direct 502 for blocked hosts, passthrough for allowed ones)
// that logs what it did as ground truth, the apps and callers around it,
// an egress proxy and the "internet". scripts/meshbed.sh builds it and
// runs each part in its own network namespace.
package main
