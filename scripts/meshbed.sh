#!/usr/bin/env bash
# The service-mesh test bed (issue 18): a pod with Istio's real iptables
# nat rules and a sidecar of our own (scripts/meshbed, a Go program:
# SO_ORIGINAL_DST, Envoy-like pooling, mTLS with Istio's SNI and ALPN, a
# direct 502 for blocked hosts, passthrough for allowed ones), peer pods
# with their own sidecars, a meshed caller and a caller outside the
# mesh, an egress proxy for *.egress.local, dnsmasq with a Kubernetes
# search list, public hosts on TEST-NET addresses, and `tcpdump -i any`
# inside the pod's network namespace, the way users capture.
#
#   scripts/meshbed.sh OUTDIR            run the scenario, write OUTDIR/
#   scripts/meshbed.sh --record          ... into decode/mesh/testdata/meshbed
#
# OUTDIR gets capture.pcap (tcpdump's own file: pcap, LINUX_SLL2),
# app-keys.log (the app's TLS keys), sidecar-keys.log (the sidecar's mTLS
# keys, client and server side), truth.jsonl (what the captured pod's
# sidecar did: every request, the upstream connection that carried it,
# the verdict), app.jsonl (what the captured pod's app did) and
# callers.jsonl (the inbound callers). Needs root, ip, iptables,
# dnsmasq, tcpdump and setpriv; everything lives in namespaces named
# after MESHBED_PREFIX (default mb<pid>) and is removed on exit.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
if [ "${1:-}" = "--record" ]; then
  out="$repo/decode/mesh/testdata/meshbed"
else
  out="${1:?usage: meshbed.sh OUTDIR | --record}"
fi
for c in ip iptables-restore dnsmasq tcpdump setpriv go; do
  command -v "$c" >/dev/null || { echo "meshbed: needs $c (scripts/test-deps.sh installs it)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "meshbed: needs root (network namespaces, iptables)" >&2; exit 2; }

P="${MESHBED_PREFIX:-mb$$}"
work="$(mktemp -d)"
chmod 755 "$work"
# The proxies run as uid 1337 and write here; OUTDIR gets copies at the
# end (it may be a directory only root can enter).
rec="$work/rec"
mkdir -m 777 "$rec"
mkdir -p "$out"
rm -f "$out"/capture.pcap "$out"/*.log "$out"/*.jsonl
bin="$work/meshbed"
(cd "$repo" && CGO_ENABLED=0 go build -o "$bin" ./scripts/meshbed)

pids=()
nss=()
cleanup() {
  status=$?
  set +e
  if [ "$status" != 0 ]; then
    for f in "$work"/*.out "$work"/tcpdump.err; do [ -s "$f" ] && { echo "== $f"; tail -5 "$f"; }; done >&2
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  for ns in "${nss[@]}"; do ip netns del "$ns" 2>/dev/null; rm -rf "/etc/netns/$ns"; done
  rm -rf "$work"
}
trap cleanup EXIT

NODE="$P-node"
ip netns add "$NODE"; nss+=("$NODE")
ip -n "$NODE" link set lo up
ip netns exec "$NODE" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0

# pod NAME ADDRESS... : a namespace wired to the node like a CNI does
# (Calico-style: a /32 on eth0, the node's veth end answers 169.254.1.1).
n=0
pod() {
  local name="$P-$1"; shift
  n=$((n + 1))
  ip netns add "$name"; nss+=("$name")
  ip -n "$name" link set lo up
  ip -n "$NODE" link add "vx$n" type veth peer name eth0 netns "$name"
  ip -n "$NODE" addr add 169.254.1.1/32 dev "vx$n"
  ip -n "$NODE" link set "vx$n" up
  for a in "$@"; do
    ip -n "$name" addr add "$a/32" dev eth0
    ip -n "$NODE" route add "$a/32" dev "vx$n"
  done
  ip -n "$name" link set eth0 up
  ip -n "$name" route add 169.254.1.1 dev eth0 scope link
  ip -n "$name" route add default via 169.254.1.1 dev eth0 onlink
}

# resolver NAME K8S-NAMESPACE: kubelet's resolv.conf for a pod.
resolver() {
  mkdir -p "/etc/netns/$P-$1"
  printf 'search %s.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n' "$2" >"/etc/netns/$P-$1/resolv.conf"
}

# istio NAME: the nat rules istio-iptables installs (proxy uid/gid 1337,
# outbound to 15001, inbound to 15006, 127.0.0.6 for inbound passthrough).
istio() {
  ip netns exec "$P-$1" iptables-restore <<'RULES'
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:ISTIO_INBOUND - [0:0]
:ISTIO_IN_REDIRECT - [0:0]
:ISTIO_OUTPUT - [0:0]
:ISTIO_REDIRECT - [0:0]
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A OUTPUT -p tcp -j ISTIO_OUTPUT
-A ISTIO_INBOUND -p tcp -m tcp --dport 15008 -j RETURN
-A ISTIO_INBOUND -p tcp -m tcp --dport 15090 -j RETURN
-A ISTIO_INBOUND -p tcp -m tcp --dport 15021 -j RETURN
-A ISTIO_INBOUND -p tcp -m tcp --dport 15020 -j RETURN
-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
-A ISTIO_OUTPUT -j ISTIO_REDIRECT
-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
COMMIT
RULES
}

# bg NS CMD...: start a process inside a namespace, killed on exit.
bg() {
  local ns="$P-$1"; shift
  ip netns exec "$ns" "$@" >>"$work/$ns.out" 2>&1 &
  pids+=($!)
}
# sidecar NS ARGS...: the proxy as uid 1337, which the nat rules exempt.
sidecar() {
  local ns="$1"; shift
  bg "$ns" setpriv --reuid=1337 --regid=1337 --clear-groups "$bin" sidecar "$@"
}

pod pp 10.244.1.10   # productpage (namespace shop): the captured pod
pod rv 10.244.1.11   # reviews (shop), meshed
pod rt 10.244.1.12   # ratings (data), meshed
pod fe 10.244.1.13   # frontend (web), meshed caller
pod lg 10.244.1.14   # legacy (legacy), outside the mesh
pod eg 10.244.1.15   # egress proxy (egress), outside the mesh
pod dns 10.244.1.53  # kube-dns
pod inet 203.0.113.10 203.0.113.20 203.0.113.40 198.51.100.5   # the internet
resolver pp shop; resolver rv shop; resolver rt data; resolver fe web; resolver lg legacy
for p in pp rv rt fe; do istio "$p"; done

# kube-proxy: service cluster IPs to endpoints, in the node.
ip netns exec "$NODE" iptables-restore <<'RULES'
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 10.96.0.10/32 -p udp --dport 53 -j DNAT --to-destination 10.244.1.53:53
-A PREROUTING -d 10.96.0.10/32 -p tcp --dport 53 -j DNAT --to-destination 10.244.1.53:53
-A PREROUTING -d 10.96.0.20/32 -p tcp --dport 9080 -j DNAT --to-destination 10.244.1.10:9080
-A PREROUTING -d 10.96.0.21/32 -p tcp --dport 9080 -j DNAT --to-destination 10.244.1.11:9080
-A PREROUTING -d 10.96.0.22/32 -p tcp --dport 9080 -j DNAT --to-destination 10.244.1.12:9080
-A PREROUTING -d 10.96.0.30/32 -p tcp --dport 80 -j DNAT --to-destination 10.244.1.15:80
COMMIT
RULES

cat >"$work/dnsmasq.conf" <<'CONF'
no-resolv
no-hosts
no-poll
bind-interfaces
listen-address=10.244.1.53
user=root
local=/cluster.local/
address=/productpage.shop.svc.cluster.local/10.96.0.20
address=/reviews.shop.svc.cluster.local/10.96.0.21
address=/ratings.data.svc.cluster.local/10.96.0.22
address=/egress-proxy.egress.svc.cluster.local/10.96.0.30
address=/kube-dns.kube-system.svc.cluster.local/10.96.0.10
local=/egress.local/
address=/egress.local/10.96.0.30
address=/api.github.com/203.0.113.10
address=/httpbin.org/203.0.113.20
address=/pastebin.com/203.0.113.30
address=/down.example.net/203.0.113.40
address=/exfil.attacker.io/203.0.113.66
address=/api.payments.io/198.51.100.5
CONF
bg dns dnsmasq -k -C "$work/dnsmasq.conf" --pid-file="$work/dnsmasq.pid"
bg inet "$bin" internet -http 203.0.113.20:80=httpbin.org -https 203.0.113.10:443=api.github.com -http 198.51.100.5:80=api.payments.io
bg eg "$bin" egress -listen :80 -map api.payments.io=198.51.100.5:80

for f in truth.jsonl app.jsonl callers.jsonl app-keys.log sidecar-keys.log; do : >"$rec/$f"; chmod 666 "$rec/$f"; done
svc_pp=productpage.shop=10.96.0.20:9080@10.244.1.10:9080
svc_rv=reviews.shop=10.96.0.21:9080@10.244.1.11:9080
svc_rt=ratings.data=10.96.0.22:9080@10.244.1.12:9080
sidecar rv -name reviews -pod-ip 10.244.1.11 -pod-ns shop
bg rv "$bin" app-server -name reviews
sidecar rt -name ratings -pod-ip 10.244.1.12 -pod-ns data
bg rt "$bin" app-server -name ratings
sidecar fe -name frontend -pod-ip 10.244.1.13 -pod-ns web -svc "$svc_pp"
sidecar pp -name productpage -pod-ip 10.244.1.10 -pod-ns shop -svc "$svc_rv" -svc "$svc_rt" \
  -allow httpbin.org,api.github.com,down.example.net,.egress.local \
  -truth "$rec/truth.jsonl" -keys "$rec/sidecar-keys.log"
bg pp "$bin" app-server -name productpage -backend http://reviews:9080/reviews/0 -log "$rec/app.jsonl"

ip netns exec "$NODE" "$bin" wait 10.244.1.53:53 203.0.113.20:80 203.0.113.10:443 198.51.100.5:80 10.244.1.15:80
for p in pp rv rt fe; do ip netns exec "$P-$p" "$bin" wait 127.0.0.1:15001 127.0.0.1:15006; done
for p in pp rv rt; do ip netns exec "$P-$p" "$bin" wait 127.0.0.1:9080; done

# The capture, as `tapview attach` or `kubectl debug` + tcpdump takes it.
ip netns exec "$P-pp" tcpdump -i any --immediate-mode -B 65536 -U -s 0 -w "$rec/capture.pcap" 2>"$work/tcpdump.err" &
tcpdump_pid=$!
pids+=("$tcpdump_pid")
for _ in $(seq 100); do grep -q listening "$work/tcpdump.err" 2>/dev/null && break; sleep 0.05; done
sleep 0.2

# Outbound: the app's own calls; then inbound from a meshed caller and a
# caller outside the mesh at once, while the app calls out again.
ip netns exec "$P-pp" "$bin" app-client -name productpage -log "$rec/app.jsonl" -keys "$rec/app-keys.log" -phase all
ip netns exec "$P-fe" "$bin" caller -name frontend -log "$rec/callers.jsonl" -n 3 http://productpage.shop:9080/productpage &
c1=$!
ip netns exec "$P-lg" "$bin" caller -name legacy -log "$rec/callers.jsonl" -n 3 -gap 27ms http://productpage.shop.svc.cluster.local:9080/productpage http://productpage.shop.svc.cluster.local:9080/missing &
c2=$!
ip netns exec "$P-pp" "$bin" app-client -name productpage -log "$rec/app.jsonl" -keys "$rec/app-keys.log" -phase mesh
wait "$c1" "$c2"
sleep 0.3
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" 2>/dev/null || true
# A capture that lost packets is not the bed's to judge by.
dropped="$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "$work/tcpdump.err")"
if [ "${dropped:-0}" != 0 ]; then
  echo "meshbed: tcpdump lost $dropped packets (machine too busy?)" >&2
  cat "$work/tcpdump.err" >&2
  exit 3
fi
for f in capture.pcap truth.jsonl app.jsonl callers.jsonl app-keys.log sidecar-keys.log; do
  cp "$rec/$f" "$out/$f"
  chmod 644 "$out/$f"
done
echo "meshbed: $(wc -l <"$out/truth.jsonl") sidecar records, $(wc -l <"$out/app.jsonl") app records, $(stat -c %s "$out/capture.pcap") bytes of capture in $out"
