package chaos

import (
	"bytes"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCatalogParses(t *testing.T) {
	all := Catalog()
	names := map[string]bool{}
	for _, s := range all {
		names[s.Name] = true
		require.NoError(t, s.Validate(), s.Name)
		require.NotEmpty(t, s.Description, s.Name)
		require.NotEmpty(t, s.Proves, s.Name)
		var buf bytes.Buffer
		require.NoError(t, WriteScenario(&buf, s))
		t.Logf("%s:\n%s", s.Name, buf.String())
	}
	for _, n := range []string{"baseline", "http-timeout-batch", "response-lost", "nats-blackhole", "nats-down", "nats-reset",
		"nats-restart", "worker-crash", "processor-crash", "slow-acks", "terminal-job", "flood", "nemesis"} {
		require.True(t, names[n], "FAULTS.md's catalog has %s", n)
	}
	for _, n := range DefaultSuite {
		require.True(t, names[n], n)
	}
	_ = rand.New
}
