// Package cluster runs ariapp over several Asterisk nodes and, with NATS,
// over several ariapp instances.
//
// Each node has its own app.App with its own ARI client; Router presents
// them to the control API as one api.Calls. Without NATS this instance
// runs every configured node. With NATS (Config.NATSURL), each node is run
// by exactly one instance at a time, the holder of the node's lease in a
// JetStream key-value bucket (Leases): a lease is created if absent,
// renewed with a revision check and expires with the bucket's TTL. An
// instance that cannot renew stops issuing requests to the node before its
// lease can expire (fencing), and the instance that takes the lease next
// adopts the node's calls with the App's resync, as after a restart.
//
// Requests for a call on a node another instance runs are forwarded to it
// at the HTTP layer over NATS request/reply (Bus), whatever the endpoint,
// and the owner's answer is returned; call events are relayed to every
// instance on one NATS subject per node, so GET /v1/calls and GET
// /v1/events cover the whole cluster.
package cluster
