package check_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/history"
)

// contractCases are the hand-written histories of the contract check; they
// join the table of TestCheckers too (so TestEveryCheckerHasCases and
// TestEveryFileHasACase see them).
var contractCases = []tcase{
	{file: "contract/pass.jsonl", verdict: "pass", summary: "8 probes, 0 answered outside the contract"},
	// /result's order differs between the platform and the reference API:
	// a probe whose answer depends on it allows both.
	{file: "contract/pass-either-order.jsonl", verdict: "pass"},
	{file: "contract/fail-order.jsonl", verdict: "fail", violations: 1, summary: "1 answered outside"},
	{file: "contract/fail-bound.jsonl", verdict: "fail", violations: 1},
	{file: "contract/fail-stored.jsonl", verdict: "fail", violations: 1, summary: "1 results of refused posts stored"},
	{file: "contract/fail-no-answer.jsonl", verdict: "fail", violations: 1},
	// The root answered 200 with an empty body: liveness reads only the
	// status, the contract the body too.
	{file: "contract/fail-root-body.jsonl", verdict: "fail", violations: 1, summary: "1 answered outside"},
	{file: "contract/unknown-no-probes.jsonl", verdict: "unknown"},
}

func init() { cases = append(cases, contractCases...) }

func TestContract(t *testing.T) {
	for _, tc := range contractCases {
		t.Run(tc.file, func(t *testing.T) {
			events, warnings, err := history.Load(filepath.Join("testdata", tc.file))
			require.NoError(t, err)
			require.Empty(t, warnings)
			r := check.Check(check.NewContract(tc.params), events)
			t.Log(r.String())
			for _, o := range r.Offending {
				t.Logf("  %.3fs %s: %s", o.T, o.Task, o.Detail)
			}
			require.Equal(t, tc.verdict, verdictOf(r), r.String())
			require.Equal(t, tc.violations, r.Violations, r.String())
			if tc.verdict == "fail" {
				require.NotEmpty(t, r.Offending)
			}
			if tc.summary != "" {
				require.Contains(t, r.Summary, tc.summary)
			}
		})
	}
}
