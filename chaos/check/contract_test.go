package check_test

import (
	"testing"

	"github.com/natschaos/natschaos/chaos/check"
)

// contractCases are the hand-written histories of the contract check; they
// join the table of TestCheckers too (so TestEveryCheckerHasCases and
// TestEveryFileHasACase see them).
var contractCases = []tcase{
	{file: "contract/pass.jsonl", summary: "8 probes, 0 answered outside the contract"},
	// /result's order differs between the platform and the reference API:
	// a probe whose answer depends on it allows both.
	{file: "contract/pass-either-order.jsonl"},
	{file: "contract/fail-order.jsonl", violations: 1, summary: "1 answered outside"},
	{file: "contract/fail-bound.jsonl", violations: 1},
	{file: "contract/fail-stored.jsonl", violations: 1, summary: "1 results of refused posts stored"},
	{file: "contract/fail-no-answer.jsonl", violations: 1},
	// The root answered 200 with an empty body: liveness reads only the
	// status, the contract the body too.
	{file: "contract/fail-root-body.jsonl", violations: 1, summary: "1 answered outside"},
	// A cancel answered 200 naming no job and no status: the cancel_job
	// fault records its answer as a contract event.
	{file: "contract/fail-cancel-answer.jsonl", violations: 1, summary: "1 answered outside"},
	{file: "contract/unknown-no-probes.jsonl"},
	// A worker's result post the API could not take (its result queue
	// full) answered 503, another got no answer: both are the contract's.
	{file: "contract/pass-result-503.jsonl", summary: "0 result items posted answered a 5xx other than 503"},
	// The same post answered 500: a worker cannot tell it from a bug.
	{file: "contract/fail-result-500.jsonl", violations: 1, summary: "1 result items posted answered a 5xx other than 503"},
	// No probe, but a post answered 500: that is known, not unknown.
	{file: "contract/fail-result-500-no-probes.jsonl", violations: 1},
}

func init() { cases = append(cases, contractCases...) }

// TestContract runs the contract check's histories (TestCheckers runs them
// too; this keeps `-run Contract` complete).
func TestContract(t *testing.T) {
	for _, tc := range contractCases {
		t.Run(tc.file, func(t *testing.T) { judge(t, tc, check.NewContract(tc.params)) })
	}
}
