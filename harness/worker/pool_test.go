package worker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/history"
)

func TestPoolDrainsAndCrashesOne(t *testing.T) {
	tests := []struct {
		name    string
		restart bool
	}{
		{"stays down", false},
		{"restarted", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const total = 200
			api := newFakeAPI(t, nil)
			api.addJob(1, "moths", total)
			cfg := testConfig(api.base(), PresetADC)
			cfg.ID = ""
			cfg.ProcessTime = 2 * time.Millisecond // slow enough to crash mid-job
			var opts []Option
			if tt.restart {
				opts = append(opts, WithRestartAfter(20*time.Millisecond))
			}
			s := newSink()
			p, err := NewPool(2, cfg, s, opts...)
			require.NoError(t, err)
			ws := p.Workers()
			require.Equal(t, "w1", ws[0].ID())
			require.Equal(t, "w2", ws[1].ID())
			run := start(t, p.Run)
			waitFor(t, 5*time.Second, "both running", func() bool { return isRunning(ws[0]) && isRunning(ws[1]) })

			id, err := p.Crash(CrashAfterReceive)
			require.NoError(t, err)
			require.Equal(t, "w1", id)
			id2, err := p.Crash(CrashAfterProcess)
			require.NoError(t, err)
			require.Equal(t, "w2", id2, "round robin")
			if !tt.restart { // restarted, a crashed worker may be back (and armable) already
				_, err = p.Crash(CrashAfterReceive)
				require.ErrorIs(t, err, ErrNoWorker, "both armed")
			}
			waitFor(t, 10*time.Second, "both crashed", func() bool { return p.Stats().Crashes == 2 })

			if tt.restart {
				waitFor(t, 10*time.Second, "both back and the queue drained", func() bool {
					return isRunning(ws[0]) && isRunning(ws[1]) && api.queued(1) == 0
				})
				// A crash can cut a result post off on either side of the
				// API's store: its results are in doubt, no other is.
				waitFor(t, 10*time.Second, "every accepted result stored, nothing unposted stored", func() bool {
					accepted, posted := postedResults(s)
					st := api.stored(1)
					return accepted <= st && st <= posted && posted-accepted <= 2*cfg.BatchSize && posted == len(s.of(history.KindHandout, ""))-heldAtCrash(s)
				})
				require.NoError(t, run.stop(t))
			} else {
				require.NoError(t, run.exited(t, 10*time.Second), "every worker down: Run returns")
				require.Less(t, api.stored(1), total)
			}
			require.Empty(t, api.badHeaders)
		})
	}
}

// postedResults counts the result events the API accepted (2xx) and all
// of them (a post a crash cut off records its failed status).
func postedResults(s *sink) (accepted, posted int) {
	for _, r := range s.of(history.KindResult, "") {
		posted++
		if r.Status/100 == 2 {
			accepted++
		}
	}
	return accepted, posted
}

// heldAtCrash counts handouts with no result event: what the crashes took.
func heldAtCrash(s *sink) int {
	posted := map[string]bool{}
	for _, r := range s.of(history.KindResult, "") {
		posted[r.Reply] = true
	}
	n := 0
	for _, h := range s.of(history.KindHandout, "") {
		if !posted[h.Reply] {
			n++
		}
	}
	return n
}

func TestNewPoolRejects(t *testing.T) {
	_, err := NewPool(0, testConfig("http://127.0.0.1:1/api/v2", PresetADC), newSink())
	require.Error(t, err)
	_, err = NewPool(2, testConfig("", PresetADC), newSink())
	require.Error(t, err)
	_, err = NewPool(2, testConfig("http://127.0.0.1:1/api/v2", PresetADC), newSink(), WithRestartAfter(0))
	require.Error(t, err)
	p, err := NewPool(1, testConfig("http://127.0.0.1:1/api/v2", PresetADC), newSink())
	require.NoError(t, err)
	_, err = p.Crash("later")
	require.ErrorIs(t, err, ErrBadCrashPoint)
}

func TestPoolAltBatchSize(t *testing.T) {
	cfg := DefaultConfig("http://127.0.0.1:1/api/v2", "w")
	cfg.BatchSize = 24
	p, err := NewPool(3, cfg, history.Discard, WithAltBatchSize(8))
	require.NoError(t, err)
	var got []int
	for _, w := range p.Workers() {
		got = append(got, w.cfg.BatchSize)
	}
	require.Equal(t, []int{24, 8, 24}, got)
	_, err = NewPool(2, cfg, history.Discard, WithAltBatchSize(0))
	require.Error(t, err)
}

func TestPoolPipelinesOf(t *testing.T) {
	groups := [][]string{{"a"}, {"b"}, {"a", "b"}}
	p, err := NewPool(3, testConfig("http://127.0.0.1:1/api/v2", PresetBasic), newSink(),
		WithPipelinesOf(func(i int) []string { return groups[i] }))
	require.NoError(t, err)
	for i, w := range p.Workers() {
		require.Equal(t, groups[i], w.Config().PipelineSlugs, w.ID())
	}
	_, err = NewPool(1, testConfig("http://127.0.0.1:1/api/v2", PresetBasic), newSink(), WithPipelinesOf(nil))
	require.Error(t, err)
}

func isRunning(w *Worker) bool {
	r, _ := w.State()
	return r
}
