#!/usr/bin/env bash
# Records real tunnelled HTTP traffic the way a capture on a Kubernetes
# node sees it (issue 20 item 2): two "nodes" (network namespaces joined
# by a veth pair, the underlay) carry "pod" addresses over a Linux tunnel
# device; a python3 http.server on node 2 answers curl on node 1, and
# tcpdump on node 1's underlay veth writes what crossed the wire. One
# capture per tunnel kind:
#
#   ipip      IPv4 in IPv4 (Calico IPIP)       sit     IPv6 in IPv4
#   ip6ip6    IPv6 in IPv6                     ipip6   IPv4 in IPv6
#   gre       GRE, IPv4 in IPv4                grekey  keyed GRE
#   gretap    GRE transparent Ethernet (0x6558)  ip6gre GRE over IPv6
#   vxlan     VXLAN, UDP 4789 (Flannel, Calico VXLAN, Cilium)
#   vxlan6    VXLAN over an IPv6 underlay
#   geneve    Geneve, UDP 6081 (Cilium, OVN)
#   nested    VXLAN inside VXLAN (two levels, as a VXLAN overlay run
#             over another overlay)
#
#   scripts/record-tunnels.sh OUTDIR [KIND...]   write OUTDIR/KIND.pcap
#   scripts/record-tunnels.sh --record           ... into testdata/tunnels
#
# Each request is GET /KIND.txt to the inner (pod) address of node 2, so a
# test can tell the captures apart. Needs root, ip, tcpdump, python3 and
# curl; the namespaces are named after TUNNELS_PREFIX (default tn<pid>)
# and removed on exit. Only these namespaces see any traffic.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
if [ "${1:-}" = "--record" ]; then
  out="$repo/testdata/tunnels"
  shift
else
  out="${1:?usage: record-tunnels.sh OUTDIR [KIND...] | --record [KIND...]}"
  shift
fi
kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(ipip sit ip6ip6 ipip6 gre grekey gretap ip6gre vxlan vxlan6 geneve nested)
for c in ip tcpdump python3 curl; do
  command -v "$c" >/dev/null || { echo "record-tunnels: needs $c" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "record-tunnels: needs root (network namespaces)" >&2; exit 2; }

P="${TUNNELS_PREFIX:-tn$$}"
N1="$P-n1"
N2="$P-n2"
work="$(mktemp -d)"
mkdir -p "$out"
pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  ip netns del "$N1" 2>/dev/null
  ip netns del "$N2" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# The underlay: one veth pair with IPv4 and IPv6 node addresses.
ip netns add "$N1"
ip netns add "$N2"
for ns in "$N1" "$N2"; do
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
ip -n "$N1" link add u1 type veth peer name u2 netns "$N2"
ip -n "$N1" addr add 10.20.0.1/24 dev u1
ip -n "$N2" addr add 10.20.0.2/24 dev u2
ip -n "$N1" addr add fd20::1/64 dev u1 nodad
ip -n "$N2" addr add fd20::2/64 dev u2 nodad
ip -n "$N1" link set u1 up
ip -n "$N2" link set u2 up

mkdir -p "$work/www"
for k in "${kinds[@]}"; do echo "hello from the $k pod" >"$work/www/$k.txt"; done
# A dual-stack server (python binds :: with IPV6_V6ONLY off) answers every
# tunnel's inner address.
(cd "$work/www" && exec ip netns exec "$N2" python3 -m http.server 8080 --bind :: >"$work/http.log" 2>&1) &
pids+=($!)

# l3 NAME TYPE-ARGS...: a point-to-point tunnel device on both nodes;
# l2 likewise for devices that carry Ethernet (gretap, vxlan, geneve).
# $1 of the args for node 1 and node 2 differ only in local/remote, so
# the caller passes both argument lists separated by --.
dev() {
  local a=() b=() side=1
  for x in "$@"; do
    if [ "$x" = -- ]; then side=2; continue; fi
    if [ $side = 1 ]; then a+=("$x"); else b+=("$x"); fi
  done
  ip -n "$N1" link add tun0 "${a[@]}"
  ip -n "$N2" link add tun0 "${b[@]}"
}

inner4=(192.168.77.1 192.168.77.2)
inner6=(fd77::1 fd77::2)
target=""

setup() {
  local k="$1" fam=4 l2=0
  case "$k" in
    ipip) dev type ipip local 10.20.0.1 remote 10.20.0.2 -- type ipip local 10.20.0.2 remote 10.20.0.1 ;;
    sit) fam=6; dev type sit local 10.20.0.1 remote 10.20.0.2 -- type sit local 10.20.0.2 remote 10.20.0.1 ;;
    ip6ip6) fam=6; dev type ip6tnl mode ip6ip6 local fd20::1 remote fd20::2 -- type ip6tnl mode ip6ip6 local fd20::2 remote fd20::1 ;;
    ipip6) dev type ip6tnl mode ipip6 local fd20::1 remote fd20::2 -- type ip6tnl mode ipip6 local fd20::2 remote fd20::1 ;;
    gre) dev type gre local 10.20.0.1 remote 10.20.0.2 -- type gre local 10.20.0.2 remote 10.20.0.1 ;;
    grekey) dev type gre local 10.20.0.1 remote 10.20.0.2 key 4242 -- type gre local 10.20.0.2 remote 10.20.0.1 key 4242 ;;
    gretap) l2=1; dev type gretap local 10.20.0.1 remote 10.20.0.2 -- type gretap local 10.20.0.2 remote 10.20.0.1 ;;
    ip6gre) dev type ip6gre local fd20::1 remote fd20::2 -- type ip6gre local fd20::2 remote fd20::1 ;;
    vxlan) l2=1; dev type vxlan id 42 local 10.20.0.1 remote 10.20.0.2 dstport 4789 -- type vxlan id 42 local 10.20.0.2 remote 10.20.0.1 dstport 4789 ;;
    vxlan6) l2=1; dev type vxlan id 43 local fd20::1 remote fd20::2 dstport 4789 -- type vxlan id 43 local fd20::2 remote fd20::1 dstport 4789 ;;
    geneve) l2=1; dev type geneve id 44 remote 10.20.0.2 -- type geneve id 44 remote 10.20.0.1 ;;
    nested)
      # VXLAN between the nodes, a second VXLAN between its addresses.
      ip -n "$N1" link add tun1 type vxlan id 46 local 10.20.0.1 remote 10.20.0.2 dstport 4789
      ip -n "$N2" link add tun1 type vxlan id 46 local 10.20.0.2 remote 10.20.0.1 dstport 4789
      ip -n "$N1" addr add 192.168.76.1/24 dev tun1
      ip -n "$N2" addr add 192.168.76.2/24 dev tun1
      ip -n "$N1" link set tun1 up
      ip -n "$N2" link set tun1 up
      l2=1
      dev type vxlan id 45 local 192.168.76.1 remote 192.168.76.2 dstport 4789 -- type vxlan id 45 local 192.168.76.2 remote 192.168.76.1 dstport 4789
      ;;
    *) echo "record-tunnels: unknown kind $k" >&2; exit 2 ;;
  esac
  if [ $fam = 4 ]; then
    if [ $l2 = 1 ]; then
      ip -n "$N1" addr add "${inner4[0]}/24" dev tun0
      ip -n "$N2" addr add "${inner4[1]}/24" dev tun0
    else
      ip -n "$N1" addr add "${inner4[0]}" peer "${inner4[1]}" dev tun0
      ip -n "$N2" addr add "${inner4[1]}" peer "${inner4[0]}" dev tun0
    fi
    target="${inner4[1]}"
  else
    ip -n "$N1" addr add "${inner6[0]}/64" dev tun0 nodad
    ip -n "$N2" addr add "${inner6[1]}/64" dev tun0 nodad
    target="[${inner6[1]}]"
  fi
  ip -n "$N1" link set tun0 up
  ip -n "$N2" link set tun0 up
}

teardown() {
  ip -n "$N1" link del tun0 2>/dev/null || true
  ip -n "$N2" link del tun0 2>/dev/null || true
  ip -n "$N1" link del tun1 2>/dev/null || true
  ip -n "$N2" link del tun1 2>/dev/null || true
}

# Wait for the server before the first capture.
for _ in $(seq 50); do
  ip netns exec "$N2" bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080' 2>/dev/null && break
  sleep 0.1
done

# kernel_has TYPE: whether this kernel can make a TYPE device (containers
# without the ipip/gre/geneve modules cannot; those kinds are skipped
# with a message, the others are still recorded).
kernel_has() {
  local args=(type "$1")
  case "$1" in
    vxlan) args+=(id 1 dstport 4789) ;;
    geneve) args+=(id 1 remote 10.20.0.2) ;;
    ip6tnl) args+=(mode ip6ip6) ;;
  esac
  ip -n "$N1" link add probe0 "${args[@]}" 2>/dev/null || return 1
  ip -n "$N1" link del probe0
}

skipped=()
for k in "${kinds[@]}"; do
  case "$k" in
    ip6ip6|ipip6) t=ip6tnl ;;
    grekey) t=gre ;;
    vxlan6|nested) t=vxlan ;;
    *) t=$k ;;
  esac
  if ! kernel_has "$t"; then
    echo "record-tunnels: $k skipped: this kernel cannot create $t devices (modprobe $t, or run on a host that has it)" >&2
    skipped+=("$k")
    continue
  fi
  setup "$k"
  f="$out/$k.pcap"
  rm -f "$f"
  # tcpdump's own pid (ip netns exec may fork), so it can be stopped.
  ip netns exec "$N1" sh -c 'echo $$ >"$0"; exec tcpdump -i u1 --immediate-mode -U -s 0 -w "$1"' "$work/tcpdump.pid" "$f" 2>"$work/tcpdump.err" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/tcpdump.pid" ] && break; sleep 0.02; done
  tp=$(cat "$work/tcpdump.pid")
  rm -f "$work/tcpdump.pid"
  for _ in $(seq 50); do grep -q listening "$work/tcpdump.err" && break; sleep 0.05; done
  ip netns exec "$N1" curl -sS --max-time 5 -o "$work/body" "http://$target:8080/$k.txt"
  grep -q "the $k pod" "$work/body" || { echo "record-tunnels: $k: wrong answer: $(cat "$work/body")" >&2; exit 1; }
  sleep 0.2
  kill -TERM "$tp"
  for _ in $(seq 100); do kill -0 "$tp" 2>/dev/null || break; sleep 0.05; done
  teardown
  echo "record-tunnels: $k -> $f ($(stat -c %s "$f") bytes)"
done
[ ${#skipped[@]} -eq 0 ] || echo "record-tunnels: not recorded here: ${skipped[*]}" >&2
