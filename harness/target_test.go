package harness

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/faults"
)

// Each target declares the needs it meets and says why for every one it
// does not; a fault runs where its needs are met. The test pins the
// targets' capabilities and one fault per need, not a list of every fault:
// a new fault is judged by the needs it declares, and needs no line here.
func TestTargets(t *testing.T) {
	for name, tc := range map[string]struct {
		target faults.Target
		meets  []faults.Need
	}{
		"embedded stack": {StackCapabilities(), []faults.Need{faults.NeedLinkProxy, faults.NeedHTTPProxy,
			faults.NeedNATSControl, faults.NeedNATSNode, faults.NeedInProcessAPI, faults.NeedBuiltinWorkers, faults.NeedOwnJob}},
		"external": {ExternalTarget{}.Capabilities(), []faults.Need{faults.NeedLinkProxy, faults.NeedHTTPProxy,
			faults.NeedBuiltinWorkers, faults.NeedOwnJob}},
		"external workers": {ExternalTarget{ExternalWorkers: true}.Capabilities(), []faults.Need{faults.NeedLinkProxy,
			faults.NeedHTTPProxy, faults.NeedOwnJob}},
		"their job": {ExternalTarget{ExternalWorkers: true, JobID: 7}.Capabilities(), []faults.Need{faults.NeedLinkProxy,
			faults.NeedHTTPProxy}},
	} {
		require.ElementsMatch(t, tc.meets, tc.target.Meets, name)
		for _, n := range faults.Needs() {
			if !slices.Contains(tc.target.Meets, n) {
				require.NotEmpty(t, tc.target.Why[n], "%s: %s is not met and not explained", name, n)
			}
		}
		for _, d := range faults.All() {
			met := !slices.ContainsFunc(d.Needs, func(n faults.Need) bool { return !slices.Contains(tc.meets, n) })
			require.Equal(t, met, d.Available(tc.target) == nil, "%s on %s", d.Name, name)
		}
	}
	// A fault on a link the harness owns runs on every target; one fault per
	// other need shows the need refused where it is not met.
	theirJob := ExternalTarget{ExternalWorkers: true, JobID: 7}.Capabilities()
	require.NoError(t, faults.Spec{Name: "latency"}.Available(theirJob))
	require.NoError(t, faults.Spec{Name: "http_status"}.Available(theirJob))
	require.ErrorContains(t, faults.Spec{Name: "cancel_job"}.Available(theirJob), "job 7 (--job-id) is not one")
	require.ErrorContains(t, faults.Spec{Name: "processor_crash"}.Available(ExternalTarget{}.Capabilities()),
		"an external API runs in a process the harness did not start")
	require.Equal(t, "worker_crash needs the harness's built-in workers: with --external-workers there are none",
		ExternalUnsupported("worker_crash", true))
	require.Empty(t, ExternalUnsupported("worker_crash", false))
	require.Contains(t, ExternalUnsupported("nats_restart", false), "nats_restart needs a NATS process the harness controls: in external mode")
	require.Contains(t, ExternalUnsupported("api_restart", false), "api_restart needs the reference API in the harness's process: an external API runs in a process")
	require.ErrorContains(t, faults.Spec{Name: "nats_pause"}.Available(StackCapabilities()), "runs inside the harness's process")
}
