package chaos

import (
	"bytes"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/faults"
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
		require.True(t, names[n], "docs/scenarios.md's catalog has %s", n)
	}
	for _, n := range DefaultSuite {
		require.True(t, names[n], n)
	}
	_ = rand.New
}

// Validate bounds the values of a Scenario built in code as a file's: at
// the bound is fine, one past it names the field.
func TestValidateUpperBounds(t *testing.T) {
	base, ok := Lookup("baseline")
	require.True(t, ok)
	for _, tc := range []struct {
		field    string
		set      func(*Scenario, int)
		at, past int
	}{
		{"workload.workers", func(s *Scenario, n int) { s.Workload.Workers = n }, MaxWorkers, MaxWorkers + 1},
		{"workload.tasks", func(s *Scenario, n int) { s.Workload.Tasks = n }, MaxTasks, MaxTasks + 1},
		{"workload.fetchers", func(s *Scenario, n int) { s.Workload.Fetchers = n }, MaxFetchers, MaxFetchers + 1},
		{"workload.batch_size", func(s *Scenario, n int) { s.Workload.BatchSize = n }, MaxBatchSize, MaxBatchSize + 1},
		{"sut.max_deliver", func(s *Scenario, n int) { s.SUT.MaxDeliver = n }, MaxMaxDeliver, MaxMaxDeliver + 1},
		{"expect.duplicates", func(s *Scenario, n int) { s.Expect.Duplicates = &n }, MaxTasks, MaxTasks + 1},
		{"sut.ack_wait", func(s *Scenario, n int) { s.SUT.AckWait = time.Duration(n) }, int(MaxDuration), int(MaxDuration + 1)},
		{"warmup", func(s *Scenario, n int) { s.Warmup = time.Duration(n) }, int(MaxDuration), int(MaxDuration + 1)},
	} {
		s := base
		tc.set(&s, tc.at)
		require.NoError(t, s.Validate(), "%s at its bound", tc.field)
		tc.set(&s, tc.past)
		var fe *faults.FieldError
		require.ErrorAs(t, s.Validate(), &fe, tc.field)
		require.Equal(t, tc.field, fe.Path)
	}
}
