package faults

import "context"

// TrafficCounter is an optional ability of a [Proxies] (found by type
// assertion): how many bytes a link's proxy carried. External mode uses it
// to see that the system under test really talks through a proxy. The
// embedded Toxiproxy has it; a remote toxiproxy-server does not.
type TrafficCounter interface {
	// Traffic is the number of bytes, both directions, the proxy of link
	// carried since it was created.
	Traffic(ctx context.Context, link string) (int64, error)
}
