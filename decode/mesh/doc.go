// Package mesh reads service-mesh structure out of decoded traffic: which
// flows are the app⇄sidecar leg and which the sidecar⇄network leg of an
// Envoy sidecar (Istio, Kuma/Kong Mesh), which way each exchange goes
// relative to the captured pod, which network-leg connection carried each
// request, and which destinations outside the cluster the pod talked to,
// by name, with a verdict (passed, blocked by the mesh, failed).
//
// Nothing here decodes bytes: a Labeler and an External are decode.Output
// wrappers that sit between the decoder and the Store (or a writer) and
// publish labelled copies, so published values stay immutable.
//
// Decisions, so the next person does not have to rediscover them:
//
//   - Evidence of a sidecar. Without pod context from the Kubernetes API,
//     a capture counts as meshed once it shows a connection to an iptables
//     redirect port (15001 outbound, 15006 inbound), Istio's inbound
//     passthrough source 127.0.0.6 (::6), a mesh SNI (Istio
//     "outbound_.PORT_.SUBSET_.HOST", Kuma "service{mesh=...}") or Istio's
//     ALPN ("istio-peer-exchange", "istio-h2", ...). Loopback alone is not
//     evidence: plenty of captures of plain loopback servers have no mesh,
//     and labelling them would be noise. Before the first evidence flows
//     carry no leg; flows are republished, so they catch up.
//   - Legs. With a sidecar, a flow is on the app leg when one end is
//     loopback or 127.0.0.6, or the server port is a redirect port or in
//     Envoy's 15000-15090 range; a mesh SNI or Istio ALPN always means the
//     network leg; everything else leaving or entering the pod is the
//     network leg.
//   - Direction comes from the redirect ports, 127.0.0.6 and the pod's
//     addresses: given by PodInfo, or learnt from the client of an
//     outbound redirect and the server of an inbound passthrough.
//   - Linking. The network leg is usually mTLS without keys, so it has no
//     exchanges; an app-leg exchange is linked to the network-leg flow that
//     was alive at its time and names the same service (mesh SNI host and
//     port against the Host header) — Envoy pools upstream connections, so
//     time alone cannot pair them. When the network leg is decoded too
//     (keys, or plaintext passthrough) its exchanges are paired with the
//     app-leg exchange of the same method, target and host nearest in time,
//     and become duplicates the default output hides.
//   - Hiding without retracting. A network-leg exchange that is not paired
//     yet is held back from the default output until it is paired (then it
//     is never shown there), final, or older than Options.Hold. Outbound,
//     the app-leg request always comes first; inbound, the app-leg request
//     follows within the sidecar's forwarding time, far below the hold.
//   - External destinations are named by the Host header, then SNI, then
//     the DNS answer seen earlier for the address, then the address. An
//     address is outside the cluster when it is outside the pod/service
//     CIDRs (from the API), or, without them, not RFC 1918/ULA, loopback,
//     link-local or shared (100.64/10). A name with no address (the app
//     leg only sees the redirect port) is external when DNS resolved it to
//     an outside address, or, without DNS, when it ends in a public
//     top-level domain. Resolver traffic itself is not a destination.
//   - Verdicts. Blocked: an Envoy direct response (server: envoy without
//     x-envoy-upstream-service-time) with 502 (Istio's block_all route,
//     BlackHoleCluster) or 403 (RBAC), or a connection the other side
//     closed or reset within a second without sending a byte. Failed: no
//     response, a reset, or an Envoy direct 5xx other than 502. Passed:
//     anything the destination answered. A group is blocked when any of its
//     requests was, so one policy denial is never averaged away.
//   - Bounds. Per-flow state, held exchanges, DNS names and groups are all
//     capped; the oldest go first.
package mesh
