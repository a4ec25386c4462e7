package check_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/history"
)

// verdict of a case: "pass", "fail" or "unknown".
type tcase struct {
	file       string // under testdata/
	verdict    string
	violations int
	params     check.Params
	summary    string // a substring the summary must hold, if set
}

func intp(n int) *int { return &n }

var cases = []tcase{
	{file: "no-loss/pass.jsonl", verdict: "pass"},
	{file: "no-loss/pass-cancelled.jsonl", verdict: "pass", summary: "1 revoked with it"},
	{file: "no-loss/pass-dead-lettered.jsonl", verdict: "pass", summary: "1 dead-lettered"},
	{file: "no-loss/fail-lost.jsonl", verdict: "fail", violations: 1, summary: "1 lost"},
	{file: "no-loss/fail-unexpected.jsonl", verdict: "fail", violations: 1, summary: "1 unexpected"},
	{file: "no-loss/unknown-no-drain.jsonl", verdict: "unknown"},
	// Killed during the drain: img-3's redelivery is due at 2.1 s, after the
	// history ends; img-4 was never delivered before the kill.
	{file: "no-loss/unknown-in-flight.jsonl", verdict: "unknown", summary: "1 tasks still in flight"},
	// The drain ended (end phase) with img-3's second delivery still held
	// by a worker: nothing can be said of it yet.
	{file: "no-loss/unknown-in-flight-at-end.jsonl", verdict: "unknown", summary: "img-3 (delivery 2 at 2.102s, decided by 6.202s)"},
	{file: "no-loss/unknown-never-delivered.jsonl", verdict: "unknown", summary: "img-4 (never delivered)"},
	{file: "no-loss/pass-redelivered-in-drain.jsonl", verdict: "pass", summary: "0 lost"},
	{file: "no-loss/fail-never-delivered.jsonl", verdict: "fail", violations: 1, summary: "1 lost"},
	// Dead letters matched on (stream, consumer, sseq): another stream's
	// advisory for the same sseq masks nothing; where publishes carry no
	// sseq, the reserve's (or its reply subject's) says which task died.
	{file: "no-loss/fail-foreign-advisory.jsonl", verdict: "fail", violations: 1, summary: "0 dead-lettered, 1 lost"},
	{file: "no-loss/pass-dead-lettered-observed-publishes.jsonl", verdict: "pass", summary: "1 dead-lettered"},
	{file: "no-loss/pass-dead-lettered-sseq-from-reply.jsonl", verdict: "pass", summary: "1 dead-lettered"},

	{file: "max-deliver/pass.jsonl", verdict: "pass"},
	{file: "max-deliver/fail-over.jsonl", verdict: "fail", violations: 2}, // dc 4, and no advisory
	{file: "max-deliver/fail-no-advisory.jsonl", verdict: "fail", violations: 1},
	{file: "max-deliver/unknown-no-config.jsonl", verdict: "unknown"},
	{file: "max-deliver/pass-own-advisory.jsonl", verdict: "pass"},
	{file: "max-deliver/fail-foreign-advisory.jsonl", verdict: "fail", violations: 1},

	{file: "duplicates/pass.jsonl", verdict: "pass", params: check.Params{ExpectDuplicates: intp(0)}, summary: "1 redundant"},
	{file: "duplicates/pass-duplicates-not-limited.jsonl", verdict: "pass", summary: "1 tasks processed more than once"},
	{file: "duplicates/fail-processed-twice.jsonl", verdict: "fail", violations: 1, params: check.Params{ExpectDuplicates: intp(0)}},
	{file: "duplicates/fail-same-reply.jsonl", verdict: "fail", violations: 1},
	{file: "duplicates/unknown-no-handouts.jsonl", verdict: "unknown"},

	{file: "redelivery-timing/pass.jsonl", verdict: "pass", summary: "1 redeliveries: 1 judged"},
	{file: "redelivery-timing/pass-three-deliveries.jsonl", verdict: "pass", summary: "2 judged"},
	{file: "redelivery-timing/pass-nak.jsonl", verdict: "pass"},
	{file: "redelivery-timing/pass-late-nobody-asked.jsonl", verdict: "pass"},
	{file: "redelivery-timing/fail-premature.jsonl", verdict: "fail", violations: 1},
	{file: "redelivery-timing/pass-after-restart.jsonl", verdict: "pass", summary: "1 after a NATS restart"},
	// A fault judged by the effects its start records, whatever its name;
	// without them, a name the faults package does not know restarts nothing.
	{file: "redelivery-timing/pass-after-restart-recorded-effects.jsonl", verdict: "pass", summary: "1 after a NATS restart"},
	{file: "redelivery-timing/fail-premature-unknown-fault.jsonl", verdict: "fail", violations: 1},
	// The same redelivery, 2.102 s after a receipt at 0.251 s: premature
	// unless the reserve says its pull was asked 150 ms before the receipt.
	{file: "redelivery-timing/pass-receipt-lag.jsonl", verdict: "pass"},
	{file: "redelivery-timing/fail-premature-no-lag-known.jsonl", verdict: "fail", violations: 1},
	{file: "redelivery-timing/fail-late.jsonl", verdict: "fail", violations: 1},
	// img-1's redelivery is due at 2.1 s and comes at 3.1 s, under resets:
	// calls that got fewer tasks than their batch, failed calls and another
	// job's empty call prove nothing; one empty call for the job does.
	{file: "redelivery-timing/pass-partial-batches-under-resets.jsonl", verdict: "pass", summary: "1 judged"},
	{file: "redelivery-timing/fail-late-empty.jsonl", verdict: "fail", violations: 1},
	{file: "redelivery-timing/unknown-unobserved.jsonl", verdict: "unknown"},

	{file: "ack-in-time/pass.jsonl", verdict: "pass"},
	{file: "ack-in-time/pass-wpi.jsonl", verdict: "pass"},
	{file: "ack-in-time/pass-late-acks-expected.jsonl", verdict: "pass", params: check.Params{ExpectLateAcks: true}},
	{file: "ack-in-time/fail-late-ack.jsonl", verdict: "fail", violations: 1},
	{file: "ack-in-time/fail-late-result.jsonl", verdict: "fail", violations: 2}, // the result, then its ack
	{file: "ack-in-time/unknown-no-acks.jsonl", verdict: "unknown"},

	{file: "orphaned/pass.jsonl", verdict: "pass"},
	{file: "orphaned/pass-inferred.jsonl", verdict: "pass"},
	{file: "orphaned/pass-expected.jsonl", verdict: "pass", params: check.Params{ExpectOrphaned: 1}},
	{file: "orphaned/fail-reserve.jsonl", verdict: "fail", violations: 1},
	{file: "orphaned/fail-inferred.jsonl", verdict: "fail", violations: 1},
	{file: "orphaned/pass-huge-seq.jsonl", verdict: "pass"},
	{file: "orphaned/fail-huge-dc.jsonl", verdict: "fail", violations: 2147483647, summary: "2147483647 orphaned deliveries"},

	{file: "stall/pass.jsonl", verdict: "pass"},
	{file: "stall/pass-worker-crash.jsonl", verdict: "pass"},
	{file: "stall/fail.jsonl", verdict: "fail", violations: 1},
	{file: "stall/pass-waiting-for-workers.jsonl", verdict: "pass"},              // a soak job queued behind others: no call yet, no stall
	{file: "stall/fail-asking-from-start.jsonl", verdict: "fail", violations: 1}, // asked from the start, nothing handed out for 3 s
	{file: "stall/unknown-no-calls.jsonl", verdict: "unknown"},

	{file: "tasks-latency/pass.jsonl", verdict: "pass"},
	{file: "tasks-latency/fail-timeout.jsonl", verdict: "fail", violations: 1},
	{file: "tasks-latency/fail-p99.jsonl", verdict: "fail", violations: 1},
	{file: "tasks-latency/unknown-no-connect-timeout.jsonl", verdict: "unknown"},

	{file: "fast-503/pass.jsonl", verdict: "pass", summary: "4 fast 503s"},
	{file: "fast-503/pass-nothing-to-judge.jsonl", verdict: "pass", summary: check.NothingToJudge},
	{file: "fast-503/fail-200-empty.jsonl", verdict: "fail", violations: 1},
	// Only pending tasks count: none once each is stored or past
	// max_deliver; a task published again after it was done is pending.
	{file: "fast-503/pass-done-before-fault.jsonl", verdict: "pass", summary: check.NothingToJudge},
	{file: "fast-503/fail-republished.jsonl", verdict: "fail", violations: 1},
	// Recorded effects: a fault named nothing known that made NATS
	// unreachable is judged; a blackhole that recorded only link-slow is not.
	{file: "fast-503/fail-recorded-effects.jsonl", verdict: "fail", violations: 1},
	{file: "fast-503/pass-recorded-effects-win.jsonl", verdict: "pass", summary: "in 1 unreachable windows"},
	{file: "fast-503/fail-timeout.jsonl", verdict: "fail", violations: 1},
	{file: "fast-503/fail-slow.jsonl", verdict: "fail", violations: 1},
	{file: "fast-503/fail-other-5xx.jsonl", verdict: "fail", violations: 1},
	{file: "fast-503/unknown-no-calls.jsonl", verdict: "unknown"},
	// limit_data on api-nats cuts /tasks inside its JetStream calls: a 200
	// is fine (the call fitted in the budget), no answer is not.
	{file: "fast-503/pass-limit-data.jsonl", verdict: "pass", summary: "3 /tasks calls judged"},
	{file: "fast-503/fail-limit-data-no-answer.jsonl", verdict: "fail", violations: 1},
	{file: "fast-503/fail-limit-data-200-empty.jsonl", verdict: "fail", violations: 1},

	{file: "liveness/pass.jsonl", verdict: "pass"},
	{file: "liveness/fail-p99.jsonl", verdict: "fail", violations: 1},
	{file: "liveness/fail-probe-error.jsonl", verdict: "fail", violations: 1},
	{file: "liveness/unknown-no-probes.jsonl", verdict: "unknown"},

	{file: "connection-leak/pass.jsonl", verdict: "pass"},
	{file: "connection-leak/fail-open-at-end.jsonl", verdict: "fail", violations: 3},
	{file: "connection-leak/fail-closed-late.jsonl", verdict: "fail", violations: 1},
	{file: "connection-leak/unknown-no-end.jsonl", verdict: "unknown"},
	{file: "connection-leak/unknown-no-conns.jsonl", verdict: "unknown"},
	{file: "connection-leak/unknown-cut-short.jsonl", verdict: "unknown"},
	{file: "connection-leak/pass-foreign-open-at-end.jsonl", verdict: "pass"}, // fail-open-at-end, but the open connections served only another job

	{file: "connection-flood/pass.jsonl", verdict: "pass"},
	{file: "connection-flood/pass-shared-link-outage.jsonl", verdict: "pass"},
	{file: "connection-flood/pass-foreign-storm.jsonl", verdict: "pass"}, // the storm of fail-storm, on connections that served only another job
	{file: "connection-flood/fail-ratio.jsonl", verdict: "fail", violations: 1},
	{file: "connection-flood/fail-storm.jsonl", verdict: "fail", violations: 1},
	{file: "connection-flood/pass-other-jobs-connections.jsonl", verdict: "pass"},
	{file: "connection-flood/unknown-no-conns.jsonl", verdict: "unknown"},

	{file: "round-trips/pass.jsonl", verdict: "pass"},
	{file: "round-trips/pass-metadata-calls.jsonl", verdict: "pass"},
	{file: "round-trips/pass-one-size.jsonl", verdict: "pass"},
	{file: "round-trips/fail-slope.jsonl", verdict: "fail", violations: 1},
	{file: "round-trips/fail-budget.jsonl", verdict: "fail", violations: 1},
	{file: "round-trips/pass-pooled.jsonl", verdict: "pass"},
	{file: "workers-seen/pass.jsonl", verdict: "pass"},
	{file: "workers-seen/pass-injected-503.jsonl", verdict: "pass"},
	{file: "workers-seen/pass-injected-recorded-effects.jsonl", verdict: "pass"},
	{file: "workers-seen/fail-unseen-503.jsonl", verdict: "fail", violations: 2},
	{file: "workers-seen/fail-other-worker.jsonl", verdict: "fail", violations: 1},
	{file: "workers-seen/unknown-no-seen.jsonl", verdict: "unknown"},

	{file: "pipeline/pass.jsonl", verdict: "pass", summary: "4 /tasks calls judged over 3 jobs of pipelines classify, detect"},
	{file: "pipeline/pass-nothing-to-judge.jsonl", verdict: "pass", summary: check.NothingToJudge},
	{file: "pipeline/fail-wrong-pipeline.jsonl", verdict: "fail", violations: 1, summary: "2 tasks in 1 /tasks calls"},
	// The job's pipeline is named only after the call: still judged.
	{file: "pipeline/fail-pipeline-named-later.jsonl", verdict: "fail", violations: 1},
	{file: "pipeline/unknown-no-pipeline.jsonl", verdict: "unknown"},
	{file: "round-trips/fail-budget-one-by-one.jsonl", verdict: "fail", violations: 1},
	{file: "round-trips/unknown-no-conns.jsonl", verdict: "unknown"},

	{file: "terminal-guard/pass.jsonl", verdict: "pass"},
	{file: "terminal-guard/pass-nothing-to-judge.jsonl", verdict: "pass", summary: check.NothingToJudge},
	{file: "terminal-guard/fail-handout.jsonl", verdict: "fail", violations: 2}, // the handout, and delivered grew
	{file: "terminal-guard/fail-delivered-grows.jsonl", verdict: "fail", violations: 1},
	{file: "terminal-guard/pass-stays-deleted.jsonl", verdict: "pass"},
	{file: "terminal-guard/fail-resurrected.jsonl", verdict: "fail", violations: 1}, // the consumer back after cleanup deleted it

	{file: "ack-pending-bound/pass.jsonl", verdict: "pass"},
	{file: "ack-pending-bound/fail.jsonl", verdict: "fail", violations: 1},
	{file: "ack-pending-bound/unknown-no-samples.jsonl", verdict: "unknown"},

	{file: "job-consistency/pass.jsonl", verdict: "pass", summary: "1 SUCCESS, 3 progress reports"},
	{file: "job-consistency/pass-dead-lettered.jsonl", verdict: "pass"},
	{file: "job-consistency/pass-nothing-to-judge.jsonl", verdict: "pass", summary: check.NothingToJudge},
	{file: "job-consistency/fail-early-success.jsonl", verdict: "fail", violations: 1},
	{file: "job-consistency/fail-progress-ahead.jsonl", verdict: "fail", violations: 1},
	{file: "job-consistency/fail-stored-twice.jsonl", verdict: "fail", violations: 1},
	{file: "job-consistency/unknown-no-publish.jsonl", verdict: "unknown"},

	{file: "resource-cleanup/pass.jsonl", verdict: "pass", summary: "stream and consumer gone"},
	// results-nats down when the job ended: the bound runs from the heal.
	{file: "resource-cleanup/pass-cleaned-after-fault.jsonl", verdict: "pass"},
	{file: "resource-cleanup/pass-nothing-to-judge.jsonl", verdict: "pass", summary: check.NothingToJudge},
	{file: "resource-cleanup/fail-consumer-left.jsonl", verdict: "fail", violations: 1},
	{file: "resource-cleanup/fail-stream-left.jsonl", verdict: "fail", violations: 1, summary: "stream still existed"},
	{file: "resource-cleanup/unknown-cut-short.jsonl", verdict: "unknown"},
}

// checkerNamed returns a fresh checker of that name from check.All.
func checkerNamed(t testing.TB, name string, p check.Params) check.Checker {
	t.Helper()
	for _, c := range append(check.All(p), check.NewResourceGrowth(check.GrowthParams{})) {
		if c.Name() == name {
			return c
		}
	}
	t.Fatalf("no checker named %q", name)
	return nil
}

func verdictOf(r check.Result) string {
	switch {
	case r.Passed():
		return "pass"
	case r.Failed():
		return "fail"
	}
	return "unknown"
}

func TestCheckers(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			name := filepath.Dir(tc.file)
			events, warnings, err := history.Load(filepath.Join("testdata", tc.file))
			require.NoError(t, err)
			require.Empty(t, warnings)
			r := check.Check(checkerNamed(t, name, tc.params), events)
			t.Log(r.String())
			for _, o := range r.Offending {
				t.Logf("  %.3fs %s %s: %s", o.T, o.Task, o.Reply, o.Detail)
			}
			require.Equal(t, name, r.Name)
			require.Equal(t, tc.verdict, verdictOf(r), r.String())
			require.Equal(t, tc.violations, r.Violations, r.String())
			require.LessOrEqual(t, len(r.Offending), check.MaxOffenses)
			if tc.verdict == "fail" {
				require.NotEmpty(t, r.Offending, "a failure points at what offended")
			}
			if tc.verdict == "unknown" {
				require.NotEmpty(t, r.Why)
			}
			if tc.summary != "" {
				require.Contains(t, r.Summary, tc.summary)
			}
		})
	}
}

// TestEveryCheckerHasCases holds the rule of docs/invariants.md: every checker
// has a history that must pass and at least one that must fail.
func TestEveryCheckerHasCases(t *testing.T) {
	for _, c := range check.All(check.Params{}) {
		var pass, fail bool
		for _, tc := range cases {
			if filepath.Dir(tc.file) == c.Name() {
				pass = pass || tc.verdict == "pass" && !strings.Contains(tc.file, "nothing")
				fail = fail || tc.verdict == "fail"
			}
		}
		require.True(t, pass, "%s has no history that must pass", c.Name())
		require.True(t, fail, "%s has no history that must fail", c.Name())
	}
}

// TestEveryFileHasACase keeps testdata and the table in step.
func TestEveryFileHasACase(t *testing.T) {
	files, err := filepath.Glob("testdata/*/*.jsonl")
	require.NoError(t, err)
	listed := map[string]bool{}
	for _, tc := range cases {
		listed[tc.file] = true
	}
	for _, tc := range runCases {
		listed[tc.file] = true
	}
	for f := range faultEffectCases {
		listed[f] = true
	}
	for _, f := range files {
		rel, _ := filepath.Rel("testdata", f)
		require.True(t, listed[filepath.ToSlash(rel)], "%s is in no test case", rel)
	}
}

func TestAllOrder(t *testing.T) {
	want := []string{"no-loss", "max-deliver", "duplicates", "redelivery-timing", "ack-in-time", "orphaned", "stall",
		"tasks-latency", "fast-503", "liveness", "connection-leak", "connection-flood", "round-trips", "terminal-guard",
		"ack-pending-bound", "workers-seen", "job-consistency", "resource-cleanup", "pipeline", "contract"}
	var got []string
	for _, c := range check.All(check.Params{}) {
		got = append(got, c.Name())
	}
	require.Equal(t, want, got)
}

func TestParamsResolve(t *testing.T) {
	p := check.Params{}.Resolve(history.Event{Kind: history.KindConfig, AckWait: 30, ConnectTimeout: 0.5})
	require.Equal(t, 1500*time.Millisecond, p.Epsilon, "5%% of A")
	require.Equal(t, 15*time.Second, p.MaxStall, "A/2")
	require.Equal(t, 250*time.Millisecond, p.ProbeP99)
	require.Equal(t, 500*time.Millisecond, p.ConnectTimeout)
	require.Equal(t, 0, p.ExpectOrphaned)
	p = check.Params{}.Resolve(history.Event{Kind: history.KindConfig, AckWait: 1})
	require.Equal(t, 100*time.Millisecond, p.Epsilon, "at least 100 ms")
	p = check.Params{Epsilon: time.Second, MaxStall: 3 * time.Second, ExpectDuplicates: intp(2)}.Resolve(history.Event{AckWait: 1})
	require.Equal(t, time.Second, p.Epsilon)
	tab := p.Table()
	require.Equal(t, 3.0, tab["max_stall_seconds"])
	require.Equal(t, 2.0, tab["expect_duplicates"])
}

type runCase struct {
	file        string
	judged      bool
	assumptions []string // substrings
	failed      []string // the checks a judged run fails
}

var runCases = []runCase{
	{file: "run/empty.jsonl", judged: false, assumptions: []string{"empty"}},
	{file: "run/no-config.jsonl", judged: false, assumptions: []string{"no config"}},
	{file: "run/no-publish.jsonl", judged: false, assumptions: []string{"no publish"}},
	{file: "run/no-calls.jsonl", judged: false, assumptions: []string{"never asked for tasks"}},
	// A fault from the start is the system's business: the run is judged
	// (and fails: two of its tasks were never served).
	{file: "run/fault-from-the-start.jsonl", judged: true, failed: []string{"no-loss", "stall"}},
	// A system that answers errors from the start fails the checks it
	// breaks; it is not a harness problem.
	{file: "run/errors-timeout-from-start.jsonl", judged: true, failed: []string{"orphaned", "tasks-latency"}},
	{file: "run/errors-5xx-from-start.jsonl", judged: true, failed: []string{"no-loss"}},
	// Two jobs of two pipelines: job 2 ends while job 1 is still handed
	// out. The checks of one job judge the run's job (the config's), so
	// terminal-guard and job-consistency do not take job 2's SUCCESS for
	// job 1's; pipeline judges both.
	{file: "run/multi-pipeline.jsonl", judged: true},
	{file: "run/multi-pipeline-wrong.jsonl", judged: true, failed: []string{"pipeline"}},
	{file: "run/multi-pipeline-lost.jsonl", judged: true, failed: []string{"no-loss"}},
}

// TestRunAssumptions: a history whose harness could not drive load is not
// judged (never a pass); any other is, whatever the system answered.
func TestRunAssumptions(t *testing.T) {
	for _, tc := range runCases {
		t.Run(tc.file, func(t *testing.T) {
			rs, err := check.RunFile(filepath.Join("testdata", tc.file), check.Params{})
			require.NoError(t, err)
			require.Equal(t, tc.judged, rs.Judged(), "%v", rs.Assumptions)
			all := strings.Join(rs.Assumptions, "; ")
			for _, s := range tc.assumptions {
				require.Contains(t, all, s)
			}
			if !tc.judged {
				return // the checks ran, but say nothing about the system
			}
			var failed []string
			for _, r := range rs.Failed() {
				failed = append(failed, r.Name)
			}
			require.Equal(t, tc.failed, failed)
		})
	}
}

// TestRunInconclusive: a judged history without its end phase, or whose
// no-loss cannot decide, is inconclusive.
func TestRunInconclusive(t *testing.T) {
	for file, want := range map[string]string{
		"no-loss/pass.jsonl":                      "",
		"no-loss/unknown-no-drain.jsonl":          "no end phase",
		"no-loss/unknown-in-flight.jsonl":         "still in flight",
		"no-loss/pass-redelivered-in-drain.jsonl": "",
		"no-loss/unknown-never-delivered.jsonl":   "no end phase",
		"no-loss/fail-lost.jsonl":                 "",
	} {
		rs, err := check.RunFile(filepath.Join("testdata", file), check.Params{})
		require.NoError(t, err)
		why := strings.Join(rs.Inconclusive(), "; ")
		if want == "" {
			require.Empty(t, why, file)
		} else {
			require.Contains(t, why, want, file)
		}
	}
}

// TestRunAllPass runs every checker over histories where each one either
// passes or has nothing to judge, and over a failing one.
func TestRunBaseline(t *testing.T) {
	rs, err := check.RunFile("testdata/no-loss/pass.jsonl", check.Params{})
	require.NoError(t, err)
	require.True(t, rs.Judged(), "%v", rs.Assumptions)
	require.Len(t, rs.Checks, len(check.All(check.Params{})))
	require.Empty(t, rs.Failed())
	r, ok := rs.Get("no-loss")
	require.True(t, ok)
	require.True(t, r.Passed())
	require.Equal(t, 3.0, r.Figures["published"])
	require.Equal(t, 0.75, rs.Duration)
	require.Equal(t, 2.0, rs.Config.AckWait)
	require.Equal(t, 100*time.Millisecond, rs.Params.Epsilon)

	rs, err = check.RunFile("testdata/no-loss/fail-lost.jsonl", check.Params{})
	require.NoError(t, err)
	require.Len(t, rs.Failed(), 1)
	require.Equal(t, "no-loss", rs.Failed()[0].Name)
}

func TestRunMalformedLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	require.NoError(t, os.WriteFile(path, []byte("{\"t\":0,\"kind\":\"config\",\"ack_wait\":2}\n{\"t\":1,\"kind\n{\"t\":2,\"kind\":\"phase\"}\n"), 0o600))
	_, err := check.RunFile(path, check.Params{})
	var le *history.LineError
	require.ErrorAs(t, err, &le)
	require.Equal(t, 2, le.Line)
}

// Sequence numbers up to the largest uint64 (a long-lived stream or
// consumer) are judged without allocating in proportion to them: the
// orphaned checker once kept a bitset as long as the highest dseq.
func TestRunHugeSequences(t *testing.T) {
	for _, file := range []string{"testdata/orphaned/pass-huge-seq.jsonl", "testdata/orphaned/fail-huge-dc.jsonl"} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		rs, err := check.RunFile(file, check.Params{})
		runtime.ReadMemStats(&after)
		require.NoError(t, err, file)
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "%s: bytes allocated", file)
		require.True(t, rs.Judged(), file)
	}
}

// faultEffectCases: file → the verdict of the fault-effect assumption and a
// substring of its summary (or why).
var faultEffectCases = map[string][2]string{
	"fault-effect/pass.jsonl":                     {"pass", "4 faults, each acted on something"},
	"fault-effect/pass-recorded-effects.jsonl":    {"pass", "4 faults, each acted on something"},
	"fault-effect/unknown-recorded-effects.jsonl": {"unknown", "f1 (latency on results-nats at 0.310s), f2 (api_oom at 0.900s), f3 (worker_oom at 1.600s)"},
	"fault-effect/pass-nothing-to-judge.jsonl":    {"pass", check.NothingToJudge},
	"fault-effect/unknown-acted-on-nothing.jsonl": {"unknown", "f1 (latency on results-nats at 0.310s), f2 (processor_crash at 0.900s), f3 (worker_crash at 1.600s)"},
}

// TestFaultEffect: a run whose fault acted on nothing is inconclusive,
// whatever its checks say; one whose faults all acted, or that has none
// whose effect is known, is not.
func TestFaultEffect(t *testing.T) {
	for file, want := range faultEffectCases {
		t.Run(file, func(t *testing.T) {
			events, warnings, err := history.Load(filepath.Join("testdata", file))
			require.NoError(t, err)
			require.Empty(t, warnings)
			r := check.Check(check.NewFaultEffect(check.Params{}), events)
			t.Log(r.String())
			require.Equal(t, want[0], verdictOf(r))
			require.Contains(t, r.Summary, want[1])
			rs, err := check.RunFile(filepath.Join("testdata", file), check.Params{})
			require.NoError(t, err)
			require.Equal(t, r.Summary, rs.FaultEffect.Summary)
			why := strings.Join(rs.Inconclusive(), "; ")
			if want[0] == "unknown" {
				require.Contains(t, why, "a fault acted on nothing")
			} else {
				require.NotContains(t, why, "fault")
			}
		})
	}
}

// TestPipelineCases runs the pipeline check's histories (TestCheckers runs
// them too; this keeps `-run Pipeline` complete).
func TestPipelineCases(t *testing.T) {
	for _, tc := range cases {
		if filepath.Dir(tc.file) != "pipeline" {
			continue
		}
		events, _, err := history.Load(filepath.Join("testdata", tc.file))
		require.NoError(t, err)
		r := check.Check(check.NewPipeline(tc.params), events)
		require.Equal(t, tc.verdict, verdictOf(r), "%s: %s", tc.file, r.String())
		require.Equal(t, tc.violations, r.Violations, tc.file)
	}
}

// TestMultiPipelineRunScope: in a history of two jobs, the run judges the
// checks of one job over each job on its own. Fed every event, as a
// single-job history would be, terminal-guard takes job 2's SUCCESS for the
// run's and fails; through Run it passes, and pipeline still sees both jobs.
func TestMultiPipelineRunScope(t *testing.T) {
	const file = "testdata/run/multi-pipeline.jsonl"
	events, _, err := history.Load(file)
	require.NoError(t, err)
	require.True(t, check.Check(check.NewTerminalGuard(check.Params{}), events).Failed(), "unscoped, job 2's end reads as the run's")
	rs, err := check.RunFile(file, check.Params{})
	require.NoError(t, err)
	require.Empty(t, rs.Failed())
	tg, _ := rs.Get("terminal-guard")
	require.True(t, tg.Passed(), tg.String())
	nl, _ := rs.Get("no-loss")
	require.Equal(t, 3.0, nl.Figures["published"], "no-loss counts every job's tasks: %s", nl.String())
	require.Contains(t, nl.Summary, "job 2 passed too")
	p, _ := rs.Get("pipeline")
	require.True(t, p.Passed(), p.String())
	require.Equal(t, 2.0, p.Figures["calls_judged"])
}

// TestMultiJobLossIsJudged: a task lost in a job other than the run's
// fails no-loss, named by its job — the other jobs of a run are judged too,
// not only the run's.
func TestMultiJobLossIsJudged(t *testing.T) {
	rs, err := check.RunFile("testdata/run/multi-pipeline-lost.jsonl", check.Params{})
	require.NoError(t, err)
	nl, _ := rs.Get("no-loss")
	require.True(t, nl.Failed(), nl.String())
	require.Equal(t, 1, nl.Violations)
	require.Contains(t, nl.Summary, "job 2: ")
	require.Equal(t, 1.0, nl.Figures["lost"])
	require.Equal(t, 3.0, nl.Figures["published"])
	require.NotEmpty(t, nl.Offending)
	require.Contains(t, nl.Offending[0].Detail, "job 2: ")
}
