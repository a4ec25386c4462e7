package check_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/history"
)

// The soak-only checks are not in check.All: their cases live here
// (TestCheckers runs them too).
var growthCases = []tcase{
	{file: "resource-growth/pass.jsonl", verdict: "pass"},
	{file: "resource-growth/pass-nothing-short.jsonl", verdict: "pass", summary: check.NothingToJudge},
	{file: "resource-growth/fail-subscriptions.jsonl", verdict: "fail", violations: 1, summary: "1 of"},
	{file: "resource-growth/fail-connections.jsonl", verdict: "fail", violations: 1},
	{file: "resource-growth/fail-mem.jsonl", verdict: "fail", violations: 2}, // server mem and the process's rss
}

func init() { cases = append(cases, growthCases...) }

func TestResourceGrowth(t *testing.T) {
	for _, tc := range growthCases {
		t.Run(tc.file, func(t *testing.T) {
			events, warnings, err := history.Load(filepath.Join("testdata", tc.file))
			require.NoError(t, err)
			require.Empty(t, warnings)
			c := check.NewResourceGrowth(check.GrowthParams{})
			r := check.Check(c, events)
			t.Log(r.String())
			for _, o := range r.Offending {
				t.Logf("  %.3fs %s", o.T, o.Detail)
			}
			require.Equal(t, tc.verdict, verdictOf(r), r.String())
			require.Equal(t, tc.violations, r.Violations, r.String())
			if tc.summary != "" {
				require.Contains(t, r.Summary, tc.summary)
			}
			require.Equal(t, r, c.Result(), "Result must not change the checker (a soak calls it every interval)")
		})
	}
}
