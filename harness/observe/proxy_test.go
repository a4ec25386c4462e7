package observe

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// fakeAPI answers /tasks and /result as docs/protocol.md says, and echoes
// anything else. It counts the calls that reached it, once answered.
type fakeAPI struct {
	*httptest.Server
	calls atomic.Int32
}

func reply(sseq, dseq uint64, dc int) string {
	return fmt.Sprintf("$JS.ACK.%s.%s.%d.%d.%d.1700000000000000000.0", testStream, testConsumer, dc, sseq, dseq)
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer f.calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/malformed/tasks/":
			_, _ = io.WriteString(w, `{"tasks": [{"image_id": {"nested": 1}, "reply_subject": 5}`)
		case strings.HasSuffix(r.URL.Path, "/tasks/"):
			var req struct {
				BatchSize int `json:"batch_size"`
			}
			_ = json.NewDecoder(r.Body).Decode(&req)
			_, _ = fmt.Fprintf(w, `{"tasks": [
				{"id": "img-1", "image_id": "img-1", "image_url": "http://x/1", "reply_subject": %q},
				{"id": "img-2", "image_id": "img-2", "image_url": "http://x/2", "reply_subject": %q}]}`,
				reply(1, 7, 1), reply(2, 8, 2))
		case strings.HasSuffix(r.URL.Path, "/result/"):
			_, _ = io.Copy(io.Discard, r.Body)
			_, _ = io.WriteString(w, `{"status": "accepted", "job_id": 1, "results_queued": 2}`)
		default:
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Upstream", "yes")
			_ = json.NewEncoder(w).Encode(map[string]string{
				"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery,
				"x-test": r.Header.Get("X-Test"), "body": string(body), "host": r.Host,
			})
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func newProxy(t *testing.T, upstream string, rules *faults.HTTPRules, sink history.Sink) *Proxy {
	t.Helper()
	p, err := NewProxy(upstream, rules, sink, WithProxyRecordTasks())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

func newClient(t *testing.T, timeout time.Duration) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}
}

func post(t *testing.T, c *http.Client, url, worker, body string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set(protocol.WorkerHeader, worker)
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

const (
	tasksPath  = "/api/v2/jobs/1/tasks/"
	resultPath = "/api/v2/jobs/1/result/"
)

func TestProxyForwards(t *testing.T) {
	api := newFakeAPI(t)
	p := newProxy(t, api.URL, nil, history.Discard)
	c := newClient(t, 5*time.Second)
	req, err := http.NewRequest(http.MethodPut, p.URL()+"/echo/x?a=1&b=2", strings.NewReader("hello"))
	require.NoError(t, err)
	req.Header.Set("X-Test", "kept")
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "yes", resp.Header.Get("X-Upstream"))
	var got map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	require.Equal(t, map[string]string{
		"method": "PUT", "path": "/echo/x", "query": "a=1&b=2", "x-test": "kept", "body": "hello",
		"host": strings.TrimPrefix(api.URL, "http://"),
	}, got)
}

func TestProxyRecordsHandoutsAndResults(t *testing.T) {
	api := newFakeAPI(t)
	sink := history.NewMemory()
	p := newProxy(t, api.URL, nil, sink)
	c := newClient(t, 5*time.Second)

	resp, _, err := post(t, c, p.URL()+tasksPath, "w1", `{"batch_size": 24}`)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	// The proxy records a call once the worker has the whole answer: wait.
	waitEvents(t, sink, history.KindHTTP, 1)
	call := sink.Of(history.KindHTTP)[0]
	for _, h := range sink.Of(history.KindHandout) {
		// A handout says how long its call had been under way: it began
		// when the call did.
		require.Positive(t, h.MS)
		require.LessOrEqual(t, h.MS, call.MS)
		require.InDelta(t, call.T-call.MS/1000, h.T-h.MS/1000, 0.05)
	}
	require.Equal(t, []history.Event{
		{Kind: history.KindHandout, Task: "img-1", Reply: reply(1, 7, 1), SSeq: 1, DSeq: 7, DC: 1, Worker: "w1"},
		{Kind: history.KindHandout, Task: "img-2", Reply: reply(2, 8, 2), SSeq: 2, DSeq: 8, DC: 2, Worker: "w1"},
	}, withoutMSs(sink.Of(history.KindHandout)))

	body := fmt.Sprintf(`{"results": [{"reply_subject": %q, "result": {"pipeline": "p"}},
		{"reply_subject": %q, "result": {"error": "boom", "image_id": "img-2"}}]}`, reply(1, 7, 1), reply(2, 99, 3))
	resp, _, err = post(t, c, p.URL()+resultPath, "w1", body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	waitEvents(t, sink, history.KindHTTP, 2)
	require.Equal(t, []history.Event{
		{Kind: history.KindResult, Task: "img-1", Reply: reply(1, 7, 1), Worker: "w1", Status: 200},
		{Kind: history.KindResult, Task: "img-2", Reply: reply(2, 99, 3), Worker: "w1", Status: 200},
	}, withoutTs(sink.Of(history.KindResult)))

	calls := sink.Of(history.KindHTTP)
	require.Len(t, calls, 2)
	require.Equal(t, history.Event{Kind: history.KindHTTP, Worker: "w1", Path: tasksPath, Status: 200, Batch: 24, N: 2},
		withoutMS(calls[0]))
	require.Equal(t, history.Event{Kind: history.KindHTTP, Worker: "w1", Path: resultPath, Status: 200, N: 2},
		withoutMS(calls[1]))
	require.Positive(t, calls[0].MS)

	// Any later delivery of a task seen in a handout is named by TaskOf.
	require.Equal(t, "img-2", p.TaskOf(reply(2, 42, 3)))
	require.Empty(t, p.TaskOf(reply(3, 1, 1)))
	require.Empty(t, p.TaskOf("not.a.reply"))
}

func TestProxyFaults(t *testing.T) {
	for _, tc := range []struct {
		name       string
		action     faults.HTTPAction
		wantCalled bool
		check      func(t *testing.T, resp *http.Response, body []byte, err error)
		wantEvent  history.Event // the http event, without ms
		handouts   int
	}{
		{
			name:   "status",
			action: faults.HTTPAction{Status: http.StatusServiceUnavailable},
			check: func(t *testing.T, resp *http.Response, body []byte, err error) {
				require.NoError(t, err)
				require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
				var e struct{ Error string }
				require.NoError(t, json.Unmarshal(body, &e))
				require.NotEmpty(t, e.Error)
			},
			wantEvent: history.Event{Status: 503, Batch: 24},
		},
		{
			name:       "delay",
			action:     faults.HTTPAction{Delay: 300 * time.Millisecond},
			wantCalled: true,
			check: func(t *testing.T, resp *http.Response, body []byte, err error) {
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode)
			},
			wantEvent: history.Event{Status: 200, Batch: 24, N: 2},
			handouts:  2,
		},
		{
			name:       "drop response",
			action:     faults.HTTPAction{DropResponse: true},
			wantCalled: true,
			check: func(t *testing.T, resp *http.Response, body []byte, err error) {
				require.Error(t, err)
				require.Nil(t, resp)
			},
			wantEvent: history.Event{Err: ErrDropped, Batch: 24},
		},
		{
			name:       "abort",
			action:     faults.HTTPAction{Abort: true},
			wantCalled: true,
			check: func(t *testing.T, resp *http.Response, body []byte, err error) {
				require.ErrorIs(t, err, io.ErrUnexpectedEOF)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				require.NotEmpty(t, body, "part of the body arrives")
			},
			wantEvent: history.Event{Status: 200, Err: ErrAborted, Batch: 24},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t)
			sink := history.NewMemory()
			rules := &faults.HTTPRules{}
			rules.Add(faults.HTTPRule{PathContains: "/tasks", Probability: 1, Action: tc.action}, 1)
			p := newProxy(t, api.URL, rules, sink)
			c := newClient(t, 5*time.Second)

			start := time.Now()
			resp, body, err := post(t, c, p.URL()+tasksPath, "w1", `{"batch_size": 24}`)
			took := time.Since(start)
			tc.check(t, resp, body, err)
			if tc.action.Delay > 0 {
				require.GreaterOrEqual(t, took, tc.action.Delay)
			}
			waitEvents(t, sink, history.KindHTTP, 1)
			if tc.wantCalled {
				require.EqualValues(t, 1, api.calls.Load(), "the API was not called in full")
			} else {
				require.Zero(t, api.calls.Load(), "the API was called")
			}
			want := tc.wantEvent
			want.Kind, want.Worker, want.Path = history.KindHTTP, "w1", tasksPath
			require.Equal(t, []history.Event{want}, withoutMSs(sink.Of(history.KindHTTP)))
			require.Len(t, sink.Of(history.KindHandout), tc.handouts)
			if tc.wantCalled {
				require.Equal(t, "img-1", p.TaskOf(reply(1, 9, 2)), "the tasks of the API's answer are learnt")
			}

			// The rule picks /tasks only: another call goes through.
			resp, _, err = post(t, c, p.URL()+"/echo", "w1", "x")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode)
		})
	}
}

func TestProxyDelayRespectsClientDisconnect(t *testing.T) {
	api := newFakeAPI(t)
	sink := history.NewMemory()
	rules := &faults.HTTPRules{}
	rules.Add(faults.HTTPRule{Probability: 1, Action: faults.HTTPAction{Delay: time.Hour}}, 1)
	p := newProxy(t, api.URL, rules, sink)
	c := newClient(t, 200*time.Millisecond)

	_, _, err := post(t, c, p.URL()+tasksPath, "w1", `{"batch_size": 2}`)
	var ne interface{ Timeout() bool }
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "want a client timeout, got %v", err)
	waitEvents(t, sink, history.KindHTTP, 1)
	require.Equal(t, []history.Event{{Kind: history.KindHTTP, Worker: "w1", Path: tasksPath, Err: "canceled", Batch: 2}},
		withoutMSs(sink.Of(history.KindHTTP)))
	require.Empty(t, sink.Of(history.KindHandout))
}

func TestProxyUpstreamDown(t *testing.T) {
	api := newFakeAPI(t)
	url := api.URL
	api.Close()
	sink := history.NewMemory()
	p := newProxy(t, url, nil, sink)
	c := newClient(t, 5*time.Second)
	_, _, err := post(t, c, p.URL()+tasksPath, "w1", `{"batch_size": 1}`)
	require.Error(t, err, "the worker's call fails as a direct one would, without a 502")
	waitEvents(t, sink, history.KindHTTP, 1)
	require.Equal(t, []history.Event{{Kind: history.KindHTTP, Worker: "w1", Path: tasksPath, Err: "refused", Batch: 1}},
		withoutMSs(sink.Of(history.KindHTTP)))
}

func TestProxyMalformedBodies(t *testing.T) {
	api := newFakeAPI(t)
	sink := history.NewMemory()
	p := newProxy(t, api.URL, nil, sink)
	c := newClient(t, 5*time.Second)

	resp, body, err := post(t, c, p.URL()+"/malformed/tasks/", "w1", `{"batch_size": "many"`)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), "nested", "forwarded untouched")
	resp, _, err = post(t, c, p.URL()+resultPath, "w1", `{"results": [{"reply_subject": 7}]}`)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	waitEvents(t, sink, history.KindHTTP, 2)
	require.Empty(t, sink.Of(history.KindHandout))
	require.Empty(t, sink.Of(history.KindResult))
}

func TestProxyBodyOverLimitStillForwarded(t *testing.T) {
	api := newFakeAPI(t)
	sink := history.NewMemory()
	p, err := NewProxy(api.URL, nil, sink, WithProxyRecordTasks(), WithProxyMaxBody(16))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	c := newClient(t, 5*time.Second)

	big := strings.Repeat("x", 1<<20)
	resp, body, err := post(t, c, p.URL()+"/echo", "w1", big)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var got map[string]string
	require.NoError(t, json.Unmarshal(body, &got))
	require.Equal(t, big, got["body"])
	resp, _, err = post(t, c, p.URL()+tasksPath, "w1", `{"batch_size": 24}`)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	waitEvents(t, sink, history.KindHTTP, 2)
	require.Empty(t, sink.Of(history.KindHandout), "a response over the limit is forwarded, not recorded")
}

func TestProxyOptions(t *testing.T) {
	_, err := NewProxy("127.0.0.1:80", nil, history.Discard)
	require.Error(t, err)
	_, err = NewProxy("http://127.0.0.1:80", nil, history.Discard, WithProxyMaxBody(0))
	require.Error(t, err)
	_, err = NewProxy("http://127.0.0.1:80", nil, history.Discard, WithProxyLogger(nil))
	require.Error(t, err)
}

func withoutTs(evs []history.Event) []history.Event {
	for i := range evs {
		evs[i].T = 0
	}
	return evs
}

func withoutMS(e history.Event) history.Event { e.T, e.MS = 0, 0; return e }

func withoutMSs(evs []history.Event) []history.Event {
	for i := range evs {
		evs[i] = withoutMS(evs[i])
	}
	return evs
}

// The user information of the upstream URL is sent as basic auth (as
// http.Client would) on the requests that carry no Authorization of their
// own, and never shows in an error.
func TestProxyUpstreamUserInfo(t *testing.T) {
	var got atomic.Value
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Authorization"))
	}))
	t.Cleanup(api.Close)
	p := newProxy(t, strings.Replace(api.URL, "://", "://probe:p%40ss-41@", 1), nil, history.Discard)
	c := newClient(t, 5*time.Second)
	for _, tc := range []struct{ sent, want string }{
		{"", "Basic cHJvYmU6cEBzcy00MQ=="}, // probe:p@ss-41
		{"Token abc", "Token abc"},
	} {
		req, err := http.NewRequest(http.MethodGet, p.URL()+"/api/v2/", nil)
		require.NoError(t, err)
		if tc.sent != "" {
			req.Header.Set("Authorization", tc.sent)
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, tc.want, got.Load())
	}
	_, err := NewProxy("ftp://probe:p%40ss-41@h", nil, history.Discard)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "ss-41")
}

// TestProxyRecordsPipelinesAsked: a /tasks call records the pipelines its
// worker's last job list asked for; none for a worker that asked for every
// pipeline, or never listed.
func TestProxyRecordsPipelinesAsked(t *testing.T) {
	api := newFakeAPI(t)
	sink := history.NewMemory()
	p := newProxy(t, api.URL, nil, sink)
	c := newClient(t, 5*time.Second)
	list := func(worker, query string) {
		req, err := http.NewRequest(http.MethodGet, p.URL()+"/api/v2/jobs/?ids_only=1&incomplete_only=1"+query, nil)
		require.NoError(t, err)
		req.Header.Set(protocol.WorkerHeader, worker)
		resp, err := c.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())
	}
	tasks := func(worker string) history.Event {
		n := len(sink.Of(history.KindHTTP))
		_, _, err := post(t, c, p.URL()+tasksPath, worker, `{"batch_size": 2}`)
		require.NoError(t, err)
		waitEvents(t, sink, history.KindHTTP, n+1)
		calls := sink.Of(history.KindHTTP)
		return calls[len(calls)-1]
	}
	list("w1", "&pipeline__slug__in=detect,%20classify")
	require.Equal(t, "detect,classify", tasks("w1").Pipelines)
	require.Empty(t, tasks("w2").Pipelines, "w2 never listed")
	list("w1", "")
	require.Empty(t, tasks("w1").Pipelines, "w1 now asks for every pipeline")
}
