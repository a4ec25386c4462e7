package check_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos/check"
)

// The soak-only checks are not in check.All: their cases live here
// (TestCheckers runs them too).
var growthCases = []tcase{
	{file: "resource-growth/pass.jsonl"},
	{file: "resource-growth/pass-nothing-short.jsonl", summary: check.NothingToJudge},
	{file: "resource-growth/fail-subscriptions.jsonl", violations: 1, summary: "1 of"},
	{file: "resource-growth/fail-connections.jsonl", violations: 1},
	{file: "resource-growth/fail-mem.jsonl", violations: 2}, // server mem and the process's rss
}

func init() { cases = append(cases, growthCases...) }

func TestResourceGrowth(t *testing.T) {
	for _, tc := range growthCases {
		t.Run(tc.file, func(t *testing.T) {
			c := check.NewResourceGrowth(check.GrowthParams{})
			r := judge(t, tc, c)
			require.Equal(t, r, c.Result(), "Result must not change the checker (a soak calls it every interval)")
		})
	}
}
