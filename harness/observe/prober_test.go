package observe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/poll/polltest"
)

func TestProberRecordsProbes(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`{"jobs": "/api/v2/jobs/"}`))
	}))
	t.Cleanup(api.Close)
	sink := history.NewMemory()
	p, err := NewProber(context.Background(), api.URL+"/api/v2/", sink, WithProberInterval(10*time.Millisecond))
	require.NoError(t, err)
	waitEvents(t, sink, history.KindHTTP, 5)
	p.Close()
	for _, e := range sink.Of(history.KindHTTP) {
		require.Equal(t, history.Event{Kind: history.KindHTTP, Worker: history.ProbeWorker, Path: "/api/v2/", Status: 200},
			withoutMS(e))
		require.Positive(t, e.MS)
	}
}

func TestProberRecordsFailures(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		api := httptest.NewServer(http.NotFoundHandler())
		url := api.URL + "/api/v2/"
		api.Close()
		sink := history.NewMemory()
		p, err := NewProber(context.Background(), url, sink, WithProberInterval(10*time.Millisecond))
		require.NoError(t, err)
		waitEvents(t, sink, history.KindHTTP, 2)
		p.Close()
		e := withoutMS(sink.Of(history.KindHTTP)[0])
		require.Equal(t, history.Event{Kind: history.KindHTTP, Worker: history.ProbeWorker, Path: "/api/v2/", Err: "refused"}, e)
	})
	t.Run("status", func(t *testing.T) {
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		t.Cleanup(api.Close)
		sink := history.NewMemory()
		p, err := NewProber(context.Background(), api.URL+"/api/v2/", sink)
		require.NoError(t, err)
		waitEvents(t, sink, history.KindHTTP, 1)
		p.Close()
		require.Equal(t, 503, sink.Of(history.KindHTTP)[0].Status)
	})
}

// A hung API: every probe times out, and later probes still start on
// schedule, each in parallel with the ones still waiting.
func TestProberSlowProbesKeepSchedule(t *testing.T) {
	var started atomic.Int32
	release := make(chan struct{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(api.Close)
	t.Cleanup(func() { close(release) })

	sink := history.NewMemory()
	const interval, timeout = 20 * time.Millisecond, 400 * time.Millisecond
	begin := time.Now()
	p, err := NewProber(context.Background(), api.URL+"/api/v2/", sink, WithProberInterval(interval), WithProberTimeout(timeout))
	require.NoError(t, err)
	t.Cleanup(p.Close)

	// Within one timeout, probes kept starting although none finished.
	polltest.CheckFor(t, timeout, 5*time.Millisecond, func() error {
		if started.Load() < 8 {
			return errNotYet
		}
		return nil
	})
	finished := sink.Of(history.KindHTTP)
	require.Less(t, time.Since(begin), timeout)
	require.Empty(t, finished, "no probe can have finished before its timeout")

	waitEvents(t, sink, history.KindHTTP, 3)
	for _, e := range sink.Of(history.KindHTTP)[:3] {
		require.Equal(t, "timeout", e.Err)
		require.Zero(t, e.Status)
		require.InDelta(t, timeout.Milliseconds(), e.MS, 200)
	}
}

func TestProberOptions(t *testing.T) {
	for _, opt := range []ProberOption{WithProberInterval(0), WithProberTimeout(0), WithProberMaxInFlight(0), WithProberLogger(nil)} {
		_, err := NewProber(context.Background(), "http://127.0.0.1:1/", history.Discard, opt)
		require.Error(t, err)
	}
	_, err := NewProber(context.Background(), "127.0.0.1:1", history.Discard)
	require.Error(t, err)
}
