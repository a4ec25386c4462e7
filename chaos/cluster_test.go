package chaos

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/internal/slowtest"
)

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
