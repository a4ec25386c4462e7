package chaos

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A fault whose needs the run's target does not meet is refused before
// anything starts (exit 2), naming the need and why; the same scenario's
// other faults, and a target that meets the need, pass.
func TestPrepareChecksTheTarget(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		external   *External
		err        string // "" = runs
	}{
		{"pause, embedded", "name: p\nchaos: 2s\nfaults:\n  - at: 0s\n    nats_pause: {for: 1s}\n", nil,
			"scenario p: faults[0]: nats_pause needs a nats-server process of its own that the harness can signal: the embedded NATS server runs inside the harness's process"},
		{"restart, embedded", "name: r\nchaos: 2s\nfaults:\n  - at: 0s\n    nats_restart: {}\n", nil, ""},
		{"restart, external", "name: r\nchaos: 2s\nfaults:\n  - at: 0s\n    nats_restart: {}\n", &External{},
			"scenario r: faults[0]: nats_restart needs a NATS process the harness controls: in external mode"},
		{"crash, external workers", "name: w\nchaos: 2s\nfaults:\n  - at: 0s\n    link: api-nats\n    down: {}\n  - at: 1s\n    worker_crash: {}\n", &External{ExternalWorkers: true},
			"scenario w: faults[1]: worker_crash needs the harness's built-in workers: with --external-workers there are none"},
		{"crash, built-in workers", "name: w\nchaos: 2s\nfaults:\n  - at: 1s\n    worker_crash: {}\n", &External{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := ParseScenario("s.yaml", []byte(tc.yaml))
			require.NoError(t, err)
			_, _, err = Prepare(sc, RunOptions{Seed: 1, External: tc.external})
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.True(t, IsUsage(err), "%v", err)
			require.ErrorContains(t, err, tc.err)
		})
	}
}
