package harness

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/internal/natsmon"
	"github.com/natschaos/natschaos/internal/poll/polltest"
	"github.com/natschaos/natschaos/internal/slowtest"
	"github.com/natschaos/natschaos/protocol"
)

// routePeers is the set of node names a node has a route to.
func routePeers(t *testing.T, monitor string) map[string]bool {
	t.Helper()
	var routez struct {
		Routes []struct {
			RemoteName string `json:"remote_name"`
		} `json:"routes"`
	}
	require.NoError(t, natsmon.Get(context.Background(), &http.Client{Timeout: time.Second}, monitor+"/routez", &routez))
	peers := map[string]bool{}
	for _, r := range routez.Routes {
		peers[r.RemoteName] = true
	}
	return peers
}

// An embedded three-node cluster: the job's stream has three replicas;
// every route goes through its link, so down on route-1 cuts nodes 1 and 2
// apart (each still reaches node 3), and a healed link brings the route
// back; a restarted node rejoins.
func TestClusterRoutesGoThroughLinks(t *testing.T) {
	slowtest.Skip(t, "starts a three-node JetStream cluster")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := testConfig()
	cfg.Cluster = 3
	cfg.API.Replicas = 3
	s, err := Start(ctx, cfg, nil)
	require.NoError(t, err)
	defer s.Close()
	require.Len(t, s.Nodes, 3)
	for i := 1; i <= 3; i++ {
		require.NotEmpty(t, s.LinkAddr(faults.RouteLink(i)), "route-%d", i)
	}
	n1, n2 := s.Nodes[0].MonitorURL(), s.Nodes[1].MonitorURL()
	require.Equal(t, map[string]bool{"n2": true, "n3": true}, routePeers(t, n1))

	id, err := s.NewJob(ctx, 10)
	require.NoError(t, err)
	var jsz struct {
		Accounts []struct {
			Streams []struct {
				Name    string `json:"name"`
				Cluster struct {
					Replicas []struct {
						Name string `json:"name"`
					} `json:"replicas"`
				} `json:"cluster"`
			} `json:"stream_detail"`
		} `json:"account_details"`
	}
	require.NoError(t, natsmon.Get(ctx, &http.Client{Timeout: time.Second}, n1+"/jsz?streams=true", &jsz))
	replicas := -1
	for _, a := range jsz.Accounts {
		for _, st := range a.Streams {
			if st.Name == protocol.StreamName(id) {
				replicas = len(st.Cluster.Replicas) + 1 // the leader and its followers
			}
		}
	}
	require.Equal(t, 3, replicas, "stream %s on every node", protocol.StreamName(id))

	require.NoError(t, s.Proxies().SetEnabled(ctx, faults.RouteLink(1), false))
	polltest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if p := routePeers(t, n1); p["n2"] || !p["n3"] {
			return fmt.Errorf("node 1 routes to %v, want n3 only", p)
		}
		if p := routePeers(t, n2); p["n1"] || !p["n3"] {
			return fmt.Errorf("node 2 routes to %v, want n3 only", p)
		}
		return nil
	})
	require.NoError(t, s.Heal(ctx))
	require.NoError(t, waitClusterReady(ctx, s.Nodes, ClusterReadyTimeout))

	require.NoError(t, s.Process().RestartNATS(ctx, 3, false))
	require.Equal(t, map[string]bool{"n1": true, "n2": true}, routePeers(t, s.Nodes[2].MonitorURL()))
	require.Error(t, s.Process().RestartNATS(ctx, 4, false))
}
