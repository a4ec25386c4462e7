package worker

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

var presets = []string{PresetADC, PresetBasic}

func TestDrainPostsEachResultOnce(t *testing.T) {
	for _, preset := range presets {
		t.Run(preset, func(t *testing.T) {
			const total = 53
			api := newFakeAPI(t, nil)
			api.addJob(1, "moths", total)
			s := newSink()
			w := newWorker(t, testConfig(api.base(), preset), s)
			run := start(t, w.Run)

			// The fake API stores a result before the worker has its answer:
			// wait for the worker's result events too, or stopping it cancels
			// the last posts in flight.
			waitFor(t, 10*time.Second, "stored every task and recorded every result", func() bool {
				return api.stored(1) == total && len(s.of(history.KindResult, "")) == total
			})
			require.NoError(t, run.stop(t))

			posts := api.postsOf()
			require.Len(t, posts, total)
			for reply, n := range posts {
				require.Equal(t, 1, n, "posts of %s", reply)
			}
			handouts := s.of(history.KindHandout, "")
			require.Len(t, handouts, total)
			seen := map[string]bool{}
			for _, h := range handouts {
				require.Equal(t, "w1", h.Worker)
				require.NotEmpty(t, h.Task)
				require.Equal(t, 1, h.DC)
				require.NotZero(t, h.SSeq)
				require.Equal(t, h.SSeq, h.DSeq)
				require.Positive(t, h.MS, "how long its /tasks call took")
				require.Contains(t, posts, h.Reply)
				seen[h.Reply] = true
			}
			require.Len(t, seen, total)
			results := s.of(history.KindResult, "")
			require.Len(t, results, total)
			for _, r := range results {
				require.Equal(t, http.StatusOK, r.Status)
				require.True(t, seen[r.Reply], "result for a reply never handed out")
			}

			received := 0
			for _, e := range s.of(history.KindHTTP, "/tasks/") {
				require.Equal(t, 5, e.Batch)
				require.Equal(t, "/api/v2/jobs/1/tasks/", e.Path)
				received += e.N
			}
			require.Equal(t, total, received)
			for _, e := range s.of(history.KindHTTP, "") {
				require.Equal(t, "w1", e.Worker)
				if e.Err != "canceled" {
					require.Empty(t, e.Err, "%+v", e)
					require.Equal(t, http.StatusOK, e.Status, "%+v", e)
				}
			}
			require.Empty(t, api.badHeaders)

			st := w.Stats()
			require.EqualValues(t, total, st.TasksReceived)
			require.EqualValues(t, total, st.ResultsPosted)
			require.Zero(t, st.ResultsFailed)
			require.Zero(t, st.Abandoned)
		})
	}
}

// TestTasksFailureStopsFetcher: whatever stops a fetcher, each of the K
// fetchers calls /tasks once per round, then the worker sleeps IdleSleep.
func TestTasksFailureStopsFetcher(t *testing.T) {
	const fetchers = 3
	tests := []struct {
		name       string
		answer     func(t testing.TB, w http.ResponseWriter, r *http.Request)
		wantStatus int
		wantErr    string
	}{
		{"timeout", func(_ testing.TB, _ http.ResponseWriter, r *http.Request) { block(r, nil) }, 0, "timeout"},
		{"503", func(_ testing.TB, w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "Task queue temporarily unavailable"})
		}, http.StatusServiceUnavailable, ""},
		{"empty", func(_ testing.TB, w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, protocol.TasksResponse{Tasks: []protocol.Task{}})
		}, http.StatusOK, ""},
		{"reset", func(t testing.TB, w http.ResponseWriter, _ *http.Request) { hangUp(t, w, true) }, 0, "reset"},
		{"eof", func(t testing.TB, w http.ResponseWriter, _ *http.Request) { hangUp(t, w, false) }, 0, "eof"},
		{"bad body", func(_ testing.TB, w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"tasks": [`))
		}, http.StatusOK, "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, kind string, _ int) bool {
				if kind != "tasks" {
					return false
				}
				tt.answer(t, w, r)
				return true
			})
			api.addJob(1, "moths", 10)
			cfg := testConfig(api.base(), PresetADC)
			cfg.Fetchers = fetchers
			cfg.HTTPTimeout = 200 * time.Millisecond
			cfg.IdleSleep = 300 * time.Millisecond
			_, s, run := runWorker(t, cfg)
			waitFor(t, 10*time.Second, "a third GET /jobs/", func() bool { return len(s.of(history.KindHTTP, "/jobs/")) >= 3 })
			require.NoError(t, run.stop(t))

			// Walk the http events: between two GET /jobs/ exactly K /tasks calls.
			var rounds [][]history.Event
			var jobsAt []history.Event
			for _, e := range s.of(history.KindHTTP, "") {
				switch {
				case strings.HasSuffix(e.Path, "/jobs/"):
					jobsAt = append(jobsAt, e)
					rounds = append(rounds, nil)
				case strings.HasSuffix(e.Path, "/tasks/"):
					rounds[len(rounds)-1] = append(rounds[len(rounds)-1], e)
				}
			}
			for i, round := range rounds[:2] {
				require.Len(t, round, fetchers, "round %d", i)
				for _, e := range round {
					require.Equal(t, tt.wantStatus, e.Status, "%+v", e)
					require.Equal(t, tt.wantErr, e.Err, "%+v", e)
					require.Equal(t, 5, e.Batch)
					require.Zero(t, e.N)
				}
				// The next GET started at least IdleSleep after the round ended.
				last := round[len(round)-1].T
				next := jobsAt[i+1].T - jobsAt[i+1].MS/1000
				require.GreaterOrEqual(t, next-last, 0.9*cfg.IdleSleep.Seconds(), "round %d", i)
			}
			if tt.wantErr == "timeout" {
				for _, e := range rounds[0] {
					require.GreaterOrEqual(t, e.MS, 190.0, "the whole timeout")
					require.Less(t, e.MS, 1500.0, "timeout honoured")
				}
			}
			require.Empty(t, s.of(history.KindHandout, ""))
			require.Empty(t, s.of(history.KindResult, ""))
		})
	}
}

func TestIdleSleepWhenNoJobs(t *testing.T) {
	for _, preset := range presets {
		t.Run(preset, func(t *testing.T) {
			api := newFakeAPI(t, nil)
			cfg := testConfig(api.base(), preset)
			cfg.IdleSleep = 150 * time.Millisecond
			_, s, run := runWorker(t, cfg)
			waitFor(t, 10*time.Second, "four GET /jobs/", func() bool { return len(s.of(history.KindHTTP, "/jobs/")) >= 4 })
			require.NoError(t, run.stop(t))

			calls := s.of(history.KindHTTP, "")
			for i := 1; i < len(calls); i++ {
				require.True(t, strings.HasSuffix(calls[i].Path, "/jobs/"), "only GET /jobs/ when there is no job: %+v", calls[i])
				if calls[i].Err == "" {
					gap := calls[i].T - calls[i].MS/1000 - calls[i-1].T
					require.GreaterOrEqual(t, gap, 0.9*cfg.IdleSleep.Seconds(), "call %d", i)
				}
			}
			require.Zero(t, api.callsOf("tasks"))
		})
	}
}

func TestJobsRetriedOn5xx(t *testing.T) {
	tests := []struct {
		name     string
		fail     int // the first fail calls answer status
		status   int
		wantFast []int // statuses of the calls made before the first idle sleep
	}{
		{"two 502 then ok", 2, http.StatusBadGateway, []int{502, 502, 200}},
		{"retries exhausted", 100, http.StatusInternalServerError, []int{500, 500, 500, 500}},
		{"no retry on 4xx", 100, http.StatusForbidden, []int{403}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, func(w http.ResponseWriter, _ *http.Request, kind string, call int) bool {
				if kind != "jobs" || call > tt.fail {
					return false
				}
				writeJSON(w, tt.status, map[string]string{"error": "nope"})
				return true
			})
			cfg := testConfig(api.base(), PresetADC)
			cfg.IdleSleep = 300 * time.Millisecond
			_, s, run := runWorker(t, cfg)
			n := len(tt.wantFast)
			waitFor(t, 10*time.Second, "the call after the idle sleep", func() bool { return len(s.of(history.KindHTTP, "/jobs/")) > n })
			require.NoError(t, run.stop(t))

			calls := s.of(history.KindHTTP, "/jobs/")
			var got []int
			for _, c := range calls[:n] {
				got = append(got, c.Status)
			}
			require.Equal(t, tt.wantFast, got)
			for i := 1; i < n; i++ {
				require.Less(t, calls[i].T-calls[i-1].T, 0.5*cfg.IdleSleep.Seconds(), "retry %d is immediate", i)
			}
			gap := calls[n].T - calls[n].MS/1000 - calls[n-1].T
			require.GreaterOrEqual(t, gap, 0.9*cfg.IdleSleep.Seconds())
			require.Equal(t, "/api/v2/jobs/", calls[0].Path)
		})
	}
}

func TestCrashPostsNothingHeld(t *testing.T) {
	for _, preset := range presets {
		for _, point := range []string{CrashAfterReceive, CrashAfterProcess} {
			t.Run(preset+"/"+point, func(t *testing.T) {
				api := newFakeAPI(t, nil)
				api.addJob(1, "moths", 20)
				s := newSink()
				w := newWorker(t, testConfig(api.base(), preset), s)
				require.NoError(t, w.Crash(point))
				_, armed := w.State()
				require.Equal(t, point, armed)
				run := start(t, w.Run)
				require.ErrorIs(t, run.exited(t, 10*time.Second), ErrCrashed)

				require.NotEmpty(t, s.of(history.KindHandout, ""), "it held tasks")
				require.Zero(t, api.callsOf("result"), "nothing posted")
				require.Empty(t, s.of(history.KindResult, ""))
				running, armed := w.State()
				require.Equal(t, "", armed)
				require.False(t, running)
				require.EqualValues(t, 1, w.Stats().Crashes)
				for _, e := range s.of(history.KindHTTP, "") {
					require.Contains(t, []string{"", "crashed"}, e.Err, "%+v", e)
				}

				// A crashed worker can be run again (a restart) and finishes the rest.
				// (A /tasks call cut by the crash may have taken tasks that no
				// handout shows: those are the orphans a crash makes.)
				held := len(s.of(history.KindHandout, ""))
				again := start(t, w.Run)
				waitFor(t, 10*time.Second, "the rest stored", func() bool {
					return api.queued(1) == 0 && api.stored(1) == len(s.of(history.KindHandout, ""))-held
				})
				require.NoError(t, again.stop(t))
			})
		}
	}
}

func TestCrashRejectsUnknownPoint(t *testing.T) {
	w := newWorker(t, testConfig("http://127.0.0.1:1/api/v2", PresetADC), newSink())
	require.ErrorIs(t, w.Crash("post"), ErrBadCrashPoint)
	_, armed := w.State()
	require.Equal(t, "", armed)
}

// TestAbandonPendingPosts: posts hang; with MaxPendingPosts pending and none
// finishing within AbandonAfter, the unsent ones are dropped.
func TestAbandonPendingPosts(t *testing.T) {
	const total = 6
	release := make(chan struct{})
	api := newFakeAPI(t, func(_ http.ResponseWriter, r *http.Request, kind string, _ int) bool {
		if kind == "result" {
			block(r, release)
		}
		return false
	})
	api.addJob(1, "moths", total)
	cfg := testConfig(api.base(), PresetADC)
	cfg.Fetchers, cfg.BatchSize = 1, 1
	cfg.Posters, cfg.MaxPendingPosts = 1, 2
	cfg.AbandonAfter = 150 * time.Millisecond
	cfg.ResultTimeout = 5 * time.Second
	w, s, run := runWorker(t, cfg)

	// 1 in flight, 2 queued → abandoned; 3 queued, 4 queued → abandoned; 5, 6 wait.
	waitFor(t, 10*time.Second, "three results abandoned", func() bool { return w.Stats().Abandoned >= 3 })
	require.Equal(t, 1, api.callsOf("result"), "one post in flight, the rest unsent")
	close(release)
	waitFor(t, 10*time.Second, "every result posted or abandoned", func() bool {
		st := w.Stats()
		return st.ResultsPosted+st.Abandoned == total
	})
	require.NoError(t, run.stop(t))

	st := w.Stats()
	require.EqualValues(t, 3, st.Abandoned)
	require.EqualValues(t, 3, st.ResultsPosted)
	require.Equal(t, 3, api.stored(1))
	results := s.of(history.KindResult, "")
	require.Len(t, results, 3, "a result event only for what was posted")
	posts := api.postsOf()
	for _, r := range results {
		require.Equal(t, http.StatusOK, r.Status)
		require.Equal(t, 1, posts[r.Reply])
	}
}

// TestResultTimeoutRecorded: a result POST with no answer is a result event
// with status 0.
func TestResultTimeoutRecorded(t *testing.T) {
	for _, preset := range presets {
		t.Run(preset, func(t *testing.T) {
			api := newFakeAPI(t, func(_ http.ResponseWriter, r *http.Request, kind string, _ int) bool {
				if kind == "result" {
					block(r, nil)
					return true
				}
				return false
			})
			api.addJob(1, "moths", 3)
			cfg := testConfig(api.base(), preset)
			cfg.ResultTimeout = 100 * time.Millisecond
			w, s, run := runWorker(t, cfg)
			waitFor(t, 10*time.Second, "three failed results", func() bool { return len(s.of(history.KindResult, "")) >= 3 })
			require.NoError(t, run.stop(t))
			for _, r := range s.of(history.KindResult, "") {
				require.Zero(t, r.Status)
			}
			for _, e := range s.of(history.KindHTTP, "/result/") {
				require.Contains(t, []string{"timeout", "canceled"}, e.Err)
				require.Zero(t, e.Status)
			}
			require.EqualValues(t, 3, w.Stats().ResultsFailed)
		})
	}
}

func TestPipelineFilterAndHeaders(t *testing.T) {
	var query string
	api := newFakeAPI(t, func(_ http.ResponseWriter, r *http.Request, kind string, _ int) bool {
		if kind == "jobs" {
			query = r.URL.RawQuery
		}
		return false
	})
	api.addJob(1, "a", 3)
	cfg := testConfig(api.base(), PresetBasic)
	cfg.PipelineSlugs = []string{"a", "b"}
	cfg.JobsLimit = 5
	s := newSink()
	run := start(t, newWorker(t, cfg, s).Run)
	waitFor(t, 10*time.Second, "a /tasks call", func() bool { return len(s.of(history.KindHTTP, "/tasks/")) >= 1 })
	require.NoError(t, run.stop(t))
	require.Equal(t, "ids_only=1&incomplete_only=1&pipeline__slug__in=a%2Cb&limit=5", query)
	require.Empty(t, api.badHeaders)
	for _, e := range s.of(history.KindHTTP, "/tasks/") {
		require.Equal(t, "a,b", e.Pipelines, "a /tasks call records the pipelines its worker asked for")
	}
}

func TestRunTwiceAtOnce(t *testing.T) {
	api := newFakeAPI(t, nil)
	w := newWorker(t, testConfig(api.base(), PresetBasic), newSink())
	run := start(t, w.Run)
	waitFor(t, 5*time.Second, "running", func() bool { return isRunning(w) })
	require.ErrorIs(t, w.Run(t.Context()), ErrRunning)
	require.NoError(t, run.stop(t))
}

// TestJobFilter: with a job filter the worker serves only its jobs: the
// other jobs the API lists get no /tasks and no /result call, keep every
// task and store nothing.
func TestJobFilter(t *testing.T) {
	for _, preset := range presets {
		t.Run(preset, func(t *testing.T) {
			var mu sync.Mutex
			paths := map[string]int{}
			api := newFakeAPI(t, func(_ http.ResponseWriter, r *http.Request, kind string, _ int) bool {
				if kind != "jobs" {
					mu.Lock()
					paths[r.URL.Path]++
					mu.Unlock()
				}
				return false
			})
			api.addJob(1, "moths", 20) // a bystander, listed first
			api.addJob(2, "moths", 13) // the run's own job
			api.addJob(3, "moths", 20) // another bystander
			cfg := testConfig(api.base(), preset)
			cfg.Jobs = []int64{2}
			_, s, run := runWorker(t, cfg)
			waitFor(t, 10*time.Second, "stored every task of job 2", func() bool {
				return api.stored(2) == 13 && len(s.of(history.KindResult, "")) == 13
			})
			// Two more rounds of GET /jobs/ that still list jobs 1 and 3.
			n := api.callsOf("jobs")
			waitFor(t, 10*time.Second, "two more GET /jobs/", func() bool { return api.callsOf("jobs") >= n+2 })
			require.NoError(t, run.stop(t))

			mu.Lock()
			defer mu.Unlock()
			for p, n := range paths {
				require.True(t, strings.HasPrefix(p, "/api/v2/jobs/2/"), "%d calls on %s, a job outside the filter", n, p)
			}
			for _, id := range []int64{1, 3} {
				require.Zero(t, api.stored(id), "results stored in job %d", id)
				require.Equal(t, 20, api.queued(id), "tasks reserved from job %d", id)
			}
			t.Logf("%s: calls per path %v; jobs 1 and 3: 0 stored, 20 queued each", preset, paths)
		})
	}
}

func TestJobFilterRejectsBadID(t *testing.T) {
	cfg := testConfig("http://127.0.0.1:1/api/v2", PresetBasic)
	cfg.Jobs = []int64{0}
	require.ErrorContains(t, cfg.Validate(), "job filter: job id 0")
}
