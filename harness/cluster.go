package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/harness/natsd"
	"github.com/natschaos/natschaos/internal/natsmon"
	"github.com/natschaos/natschaos/internal/poll"
)

// ClusterName is the name of the embedded JetStream cluster.
const ClusterName = "natschaos"

// deadRouteAddr is what cluster nodes advertise as their route address:
// port 1 on loopback, where nothing listens, so that a node that learns of
// another by gossip cannot reach it except through the links.
const deadRouteAddr = "127.0.0.1:1"

// ClusterReadyTimeout bounds the wait for an embedded cluster's routes and
// JetStream meta leader.
const ClusterReadyTimeout = 30 * time.Second

// startCluster starts n nats-servers ("n1" … "nN") that form one JetStream
// cluster on 127.0.0.1, every route through a link: route-k carries the
// route between node k and node k%n+1, and only node k dials it. For
// n = 3 that is a full mesh, so down on route-k cuts nodes k and k%n+1 apart
// while both still reach the third, and latency on it slows their
// replication. Cluster addresses are neither given to clients nor usable by
// gossip (see deadRouteAddr). It returns once every node sees its routes,
// a meta leader and says it is healthy.
// The caller must Close every node returned, also with an error.
func startCluster(ctx context.Context, proxies faults.Proxies, n int, links map[string]string) ([]*natsd.Server, error) {
	if n < 2 {
		return nil, fmt.Errorf("cluster of %d: want at least 2 nodes", n)
	}
	// Each node's route port is taken from the OS now: the links must
	// forward to it before the node that listens on it starts.
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("cluster port: %w", err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		if err := ln.Close(); err != nil {
			return nil, fmt.Errorf("cluster port: %w", err)
		}
	}
	for k := 1; k <= n; k++ {
		link := faults.RouteLink(k)
		addr, err := proxies.Create(ctx, link, "127.0.0.1:0", net.JoinHostPort("127.0.0.1", fmt.Sprint(ports[k%n])))
		if err != nil {
			return nil, fmt.Errorf("create link %s: %w", link, err)
		}
		links[link] = addr
	}
	var nodes []*natsd.Server
	for i := 0; i < n; i++ {
		route, err := url.Parse("nats-route://" + links[faults.RouteLink(i+1)])
		if err != nil {
			return nodes, fmt.Errorf("route url: %w", err)
		}
		port := ports[i]
		srv, err := natsd.Start(natsd.WithName(fmt.Sprintf("n%d", i+1)), natsd.WithOptions(func(o *server.Options) {
			o.Cluster.Name = ClusterName
			o.Cluster.Host = "127.0.0.1"
			o.Cluster.Port = port
			o.Cluster.NoAdvertise = true // no cluster addresses in clients' connect_urls
			// Gossip would let every node dial every other directly, around
			// the links (implicit routes): advertise an address where nothing
			// listens, so that such a dial fails at once and the routes stay
			// the ones configured here.
			o.Cluster.Advertise = deadRouteAddr
			o.Routes = []*url.URL{route}
		}))
		if err != nil {
			return nodes, fmt.Errorf("start nats node %d: %w", i+1, err)
		}
		nodes = append(nodes, srv)
	}
	if err := waitClusterReady(ctx, nodes, ClusterReadyTimeout); err != nil {
		return nodes, err
	}
	return nodes, nil
}

// waitClusterReady polls every running node's monitoring port until it has a
// route to each other node, knows the JetStream meta leader and says it is
// healthy (/healthz).
func waitClusterReady(ctx context.Context, nodes []*natsd.Server, limit time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	err := poll.Until(ctx, limit, 50*time.Millisecond, func(ctx context.Context) error {
		for i, nd := range nodes {
			if !nd.Running() {
				continue
			}
			if err := nodeReady(ctx, client, nd.MonitorURL(), len(nodes)); err != nil {
				return fmt.Errorf("node %d: %w", i+1, err)
			}
		}
		return nil
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, poll.ErrTimedOut):
		return fmt.Errorf("cluster not ready within %s: %w", limit, errors.Unwrap(err))
	}
	return fmt.Errorf("cluster not ready: %w", err)
}

func nodeReady(ctx context.Context, client *http.Client, monitor string, n int) error {
	var routez struct {
		Routes []struct {
			RemoteName string `json:"remote_name"`
		} `json:"routes"`
	}
	if err := natsmon.Get(ctx, client, monitor+"/routez", &routez); err != nil {
		return fmt.Errorf("routez: %w", err)
	}
	peers := map[string]bool{}
	for _, r := range routez.Routes {
		peers[r.RemoteName] = true
	}
	if len(peers) < n-1 {
		return fmt.Errorf("routes to %d of %d other nodes", len(peers), n-1)
	}
	var jsz struct {
		Meta *struct {
			Leader   string `json:"leader"`
			Replicas []struct {
				Name    string `json:"name"`
				Current bool   `json:"current"`
				Offline bool   `json:"offline"`
			} `json:"replicas"`
		} `json:"meta_cluster"`
	}
	if err := natsmon.Get(ctx, client, monitor+"/jsz", &jsz); err != nil {
		return fmt.Errorf("jsz: %w", err)
	}
	if jsz.Meta == nil || jsz.Meta.Leader == "" {
		return errors.New("no JetStream meta leader yet")
	}
	// /healthz answers 200 once the node's JetStream is current with the
	// meta group and with every stream and consumer it hosts.
	var health struct {
		Status string `json:"status"`
	}
	if err := natsmon.Get(ctx, client, monitor+"/healthz", &health); err != nil {
		return fmt.Errorf("healthz: %w", err)
	}
	// The meta leader lists its peers (followers do not track each other):
	// an R3 stream is placed only once the leader sees every one of them
	// current again (after a restart or a cut route).
	var varz struct {
		Name string `json:"server_name"`
	}
	if err := natsmon.Get(ctx, client, monitor+"/varz", &varz); err != nil {
		return fmt.Errorf("varz: %w", err)
	}
	if varz.Name != jsz.Meta.Leader {
		return nil
	}
	if len(jsz.Meta.Replicas) < n-1 {
		return fmt.Errorf("meta leader knows %d of %d peers", len(jsz.Meta.Replicas), n-1)
	}
	for _, p := range jsz.Meta.Replicas {
		if !p.Current || p.Offline {
			return fmt.Errorf("meta peer %s not current", p.Name)
		}
	}
	return nil
}
