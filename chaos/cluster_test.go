package chaos

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/internal/slowtest"
)

func TestClusterSettingsValidated(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, field, msg string
		line                   int
	}{
		{"two nodes", "name: c\nsut:\n  cluster: 2\n", "sut.cluster", "cluster 2: 1 (one server) or 3", 3},
		{"negative", "name: c\nsut:\n  cluster: -1\n", "sut.cluster", "cluster -1", 3},
		{"route without cluster", "name: c\nchaos: 2s\nfaults:\n  - at: 0s\n    link: route-1\n    down: {}\n", "faults[0].link", "link route-1 needs a cluster: set sut.cluster: 3", 5},
		{"route beyond the cluster", "name: c\nsut:\n  cluster: 3\nchaos: 2s\nfaults:\n  - at: 0s\n    link: route-4\n    down: {}\n", "faults[0].link", "a 3-node cluster has route-1 … route-3", 7},
		{"node beyond the cluster", "name: c\nsut:\n  cluster: 3\nchaos: 2s\nfaults:\n  - at: 0s\n    nats_restart: {node: 4}\n", "faults[0].nats_restart.node", "node 4: the NATS has 3 node(s)", 7},
		{"node without a cluster", "name: c\nchaos: 2s\nfaults:\n  - at: 0s\n    nats_restart: {node: 2}\n", "faults[0].nats_restart.node", "node 2: the NATS has 1 node(s)", 5},
		{"nemesis route without cluster", "name: c\nchaos: 2s\nnemesis:\n  faults:\n    - link: route-2\n      down: {}\n  interval: [1s, 2s]\n  duration: [1s, 2s]\n", "nemesis.faults[0].link", "needs a cluster", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseScenario("c.yaml", []byte(tc.yaml))
			var fe *FileError
			require.True(t, errors.As(err, &fe), "%T: %v", err, err)
			require.Equal(t, tc.field, fe.Field, "%v", err)
			require.Contains(t, fe.Msg, tc.msg)
			require.Equal(t, tc.line, fe.Line, "%v", err)
		})
	}
	s, err := ParseScenario("c.yaml", []byte("name: c\nsut:\n  cluster: 3\nchaos: 2s\nfaults:\n  - at: 0s\n    link: route-3\n    latency: {latency: 5ms}\n  - at: 1s\n    nats_restart: {node: 3}\n"))
	require.NoError(t, err)
	require.Equal(t, 3, s.Nodes())
}

// TestClusterScenarios runs the built-in cluster scenarios on the embedded
// three-node cluster: one node restarted, a route down and another slow.
// No checker may fail (one that cannot decide is logged, as a report shows it).
func TestClusterScenarios(t *testing.T) {
	slowtest.Skip(t, "starts a three-node JetStream cluster per scenario (about 7 s each)")
	for _, name := range []string{"cluster-restart", "cluster-route-down"} {
		t.Run(name, func(t *testing.T) {
			rep, err := runBuiltIn(t, name, RunOptions{Out: filepath.Join(t.TempDir(), name)})
			if rep != nil && err != nil {
				t.Logf("failed checks: %s", failed(rep))
			}
			require.NoError(t, err)
			for _, c := range rep.Checks {
				if c.OK == nil {
					t.Logf("%s could not decide: %s", c.Name, c.Summary)
					continue
				}
				require.True(t, *c.OK, "%s: %s", c.Name, c.Summary)
			}
			require.NotEmpty(t, rep.Faults)
		})
	}
}
