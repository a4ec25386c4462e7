package harness

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/faults"
)

// Each target refuses exactly the faults whose needs it does not meet, and
// says why.
func TestTargets(t *testing.T) {
	runs := func(target faults.Target) []string {
		var ok []string
		for _, d := range faults.All() {
			if d.Available(target) == nil {
				ok = append(ok, d.Name)
			}
		}
		return ok
	}
	links := []string{"bandwidth", "blackhole", "latency", "limit_data", "reset", "slicer", "slow_close", "timeout", "down", "nats_drop",
		"http_abort", "http_delay", "http_drop_response", "http_status"}
	require.Equal(t, append(links, "api_restart", "cancel_job", "create_job", "nats_restart", "processor_crash", "worker_crash"), runs(StackCapabilities()))
	require.Equal(t, append(links, "cancel_job", "create_job", "worker_crash"), runs(ExternalTarget{ExternalWorkers: false}.Capabilities()))
	require.Equal(t, append(links, "cancel_job", "create_job"), runs(ExternalTarget{ExternalWorkers: true}.Capabilities()))
	require.Equal(t, links, runs(ExternalTarget{ExternalWorkers: true, JobID: 7}.Capabilities()))

	require.Equal(t, "worker_crash needs the harness's built-in workers: with --external-workers there are none",
		ExternalUnsupported("worker_crash", true))
	require.Empty(t, ExternalUnsupported("worker_crash", false))
	require.Contains(t, ExternalUnsupported("nats_restart", false), "nats_restart needs a NATS process the harness controls: in external mode")
	require.Contains(t, ExternalUnsupported("api_restart", false), "api_restart needs the reference API in the harness's process: an external API runs in a process")
	require.ErrorContains(t, faults.Spec{Name: "nats_pause"}.Available(StackCapabilities()), "runs inside the harness's process")
}
