package faults

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/history"
)

// TestEveryFaultDescribesItself fails when a registered fault does not say
// what it needs from a target and what it does: the external-mode check,
// scenario validation and the checkers read those, never fault names.
func TestEveryFaultDescribesItself(t *testing.T) {
	require.NotEmpty(t, All())
	for _, d := range All() {
		require.NoError(t, d.describe())
	}
	for _, n := range Needs() {
		require.NotEmpty(t, needText[n], n)
	}
	// The check itself fails on what a new fault might forget.
	ok, _ := Lookup("limit_data")
	for name, broken := range map[string]func(*Def){
		"no needs":         func(d *Def) { d.Needs = nil },
		"no effects":       func(d *Def) { d.Effects = 0 },
		"unknown effect":   func(d *Def) { d.Effects |= history.AllEffects + 1 },
		"unknown need":     func(d *Def) { d.Needs = []Need{NeedLinkProxy, "a-gpu"} },
		"link, no proxy":   func(d *Def) { d.Needs = []Need{NeedOwnJob} },
		"no family":        func(d *Def) { d.Family = "" },
		"span not instant": func(d *Def) { d.Span = "bytes" },
	} {
		d := ok
		broken(&d)
		require.Error(t, d.describe(), name)
	}
}

func TestRegistryOrder(t *testing.T) {
	all := All()
	require.Len(t, all, len(registry))
	require.Equal(t, Names(), func() (n []string) {
		for _, d := range all {
			n = append(n, d.Name)
		}
		return n
	}())
	// Families in their order (toxics first, process faults last), each by name.
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		fa, fb := slices.Index(families, a.Family), slices.Index(families, b.Family)
		require.True(t, fa >= 0 && fb >= 0, "%s or %s has no known family", a.Name, b.Name)
		require.True(t, fa < fb || fa == fb && a.Name < b.Name, "%s (%s) listed before %s (%s)", a.Name, a.Family, b.Name, b.Family)
	}
	require.Equal(t, "toxic", all[0].Family)
	require.Equal(t, "process", all[len(all)-1].Family)
	all[0].Name = "changed"
	require.NotEqual(t, "changed", All()[0].Name, "All returns a copy of the registry")
}

func TestEffectsOn(t *testing.T) {
	for _, tc := range []struct {
		fault, link string
		want        history.Effects
	}{
		{"down", LinkAPINATS, history.EffectLinkDown | history.EffectNATSUnreachable},
		{"down", LinkResultsNATS, history.EffectLinkDown},
		{"reset", LinkAPINATS, history.EffectLinkDown | history.EffectNATSUnreachable},
		{"limit_data", LinkAPINATS, history.EffectLinkCut | history.EffectNATSCut},
		{"limit_data", LinkResultsNATS, history.EffectLinkCut},
		{"latency", LinkAPINATS, history.EffectLinkSlow},
		{"nats_restart", "", history.EffectNATSUnreachable | history.EffectNATSRestart},
		{"http_abort", LinkWorkerAPI, history.EffectAnswerInjected | history.EffectResponseLost},
		{"worker_crash", "", history.EffectWorkerDies},
	} {
		d, ok := Lookup(tc.fault)
		require.True(t, ok, tc.fault)
		require.Equal(t, tc.want.Names(), d.EffectsOn(tc.link).Names(), "%s on %q", tc.fault, tc.link)
	}
}

func TestAvailable(t *testing.T) {
	target := Target{
		Meets: []Need{NeedLinkProxy, NeedHTTPProxy, NeedOwnJob},
		Why:   map[Need]string{NeedNATSControl: "natschaos does not own that NATS"},
	}
	require.NoError(t, Spec{Name: "down"}.Available(target))
	require.NoError(t, Spec{Name: "http_abort"}.Available(target))
	require.NoError(t, Spec{Name: "cancel_job"}.Available(target))
	require.NoError(t, Spec{Name: "no-such-fault"}.Available(target), "Validate refuses unknown faults")
	require.EqualError(t, Spec{Name: "nats_restart"}.Available(target), "nats_restart needs a NATS process the harness controls: natschaos does not own that NATS")
	require.EqualError(t, Spec{Name: "worker_crash"}.Available(target), "worker_crash needs the harness's built-in workers: this target does not have it")
}

func TestSpecNode(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		node int
		ok   bool
	}{
		{Spec{"nats_restart", Attrs{"node": " 2 "}}, 2, true},
		{Spec{"nats_pause", Attrs{"for": "1s"}}, 0, true},
		{Spec{"nats_restart", Attrs{"node": "x"}}, 0, false},
		{Spec{"down", Attrs{"node": "2"}}, 0, false},
		{Spec{"no-such-fault", nil}, 0, false},
	} {
		n, ok := tc.spec.Node()
		require.Equal(t, tc.ok, ok, "%v", tc.spec)
		require.Equal(t, tc.node, n, "%v", tc.spec)
	}
}
