// Package mesh reads service-mesh structure out of decoded traffic: which
// flows are the app⇄sidecar leg and which the sidecar⇄network leg of an
// Envoy sidecar (Istio, Kuma/Kong Mesh), which way each exchange goes
// relative to the captured pod, which network-leg connection carried each
// request, and which destinations outside the cluster the pod talked to,
// by name, with a verdict (passed, blocked by the mesh, failed).
//
// Nothing here decodes application bytes: a Labeler and an External are
// decode.Output wrappers that sit between the decoder and the Store (or a
// writer) and publish labelled copies, so published values stay
// immutable. A Labeler's Wire sits in front of the decoder and reads
// packet headers only (see Wire): it joins the halves of connections that
// netfilter NAT split, and keeps the payload timing links need.
//
// Decisions, so the next person does not have to rediscover them:
//
//   - NAT in the capture. Inside the pod, iptables REDIRECT rewrites the
//     app's packets before the capture sees them on lo, conntrack rewrites
//     the replies back before the capture sees them too: requests go to
//     127.0.0.1:15001, replies come from the original destination. The
//     Wire gives the replies the request side's addresses again (a
//     SYN-ACK acknowledging the SYN's sequence, or, for a connection open
//     before the capture began, replies acknowledging what the client
//     sent to the loopback address) and keeps the original destination,
//     which flows carry as OrigDst. Inbound redirects (PREROUTING) need
//     nothing: the capture sees those packets before the rewrite and the
//     replies after it is undone. A redirected connection is evidence of
//     a sidecar whatever the port.
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
//   - Linking. When the network leg is decoded too (keys, plaintext
//     passthrough, plaintext inbound from outside the mesh) its exchanges
//     are paired with the app-leg exchange of the same method, target and
//     host, in the order a sidecar forwards (outbound the app leg first,
//     inbound the network leg first), whichever of the two is published
//     second, and become duplicates the default output hides. Otherwise
//     an app-leg exchange is linked only once it is final — before that
//     the sidecar may not have opened, or picked from its pool, the
//     upstream connection. Candidates go where the request went: the
//     service its Host names (mesh SNI host and port), its original
//     destination (passthrough); inbound, the app's own address. Envoy
//     pools upstream connections, so among them only the Wire's payload
//     timing tells: the response that came back just before the sidecar
//     answered the app (after a request sent after the app's), inbound
//     the request that arrived just before the sidecar passed it on; a
//     burst serves one request. A connection whose requests are decoded
//     is linked through its twin only. An Envoy-made 502/403 had no
//     upstream and is linked to nothing; an Envoy-made 503 to the
//     connection the sidecar opened for it that returned nothing.
//     Requests alike in size sent at once to one service over opaque
//     mTLS cannot be told apart; the nearest in time is taken.
//   - Hiding without retracting. A network-leg exchange that is not paired
//     yet is held back from the default output until it is paired (then it
//     is never shown there), final, or older than Options.Hold. Outbound,
//     the app-leg request always comes first; inbound, the app-leg request
//     follows within the sidecar's forwarding time, far below the hold.
//   - External destinations are named by the Host header, then SNI, then
//     the DNS answer seen earlier for the address, then the address.
//     Cluster names win over how a name looks: a name the mesh SNI of
//     the connection that carried it names as an in-cluster service (or
//     any mesh SNI did), a name under svc.<domain> or a search domain the
//     pod's DNS queries show, a name DNS resolved only with a search
//     domain appended, NAME.NAMESPACE for a namespace PodInfo lists
//     ("reviews.shop" is service reviews in namespace shop, not a .shop
//     domain). An
//     address is outside the cluster when it is outside the pod/service
//     CIDRs (from the API), or, without them, not RFC 1918/ULA, loopback,
//     link-local or shared (100.64/10). A name with no address (the app
//     leg only sees the redirect port) is external when DNS resolved it to
//     an outside address, or, without DNS, when it ends in a public
//     top-level domain. Resolver traffic itself is not a destination.
//   - Verdicts. Blocked: an Envoy direct response (server: envoy without
//     x-envoy-upstream-service-time) with 502 (Istio's block_all route,
//     BlackHoleCluster) or 403 (RBAC), or an app-leg connection the
//     sidecar closed or reset within a second without sending a byte.
//     Failed: no response, a reset (on the network leg always: that is
//     the destination, not the mesh), or an Envoy direct 5xx other than
//     502; a network-leg connection linked to a request counts with the
//     request, never as one more. Passed:
//     anything the destination answered. A group is blocked when any of its
//     requests was, so one policy denial is never averaged away.
//   - Bounds. Per-flow state, held exchanges, DNS names and groups are all
//     capped; the oldest go first.
package mesh
