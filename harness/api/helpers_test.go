package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/natschaos/natschaos/harness/natsd"
	"github.com/natschaos/natschaos/harness/natsd/natsdtest"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/poll/polltest"
	"github.com/natschaos/natschaos/internal/tcptest"
	"github.com/natschaos/natschaos/protocol"
	"github.com/natschaos/natschaos/protocol/ackreply"
	"github.com/natschaos/natschaos/protocol/apicall"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testToken = "s3cret"

// memSink keeps the events an API emits.
type memSink struct{ *history.Memory }

func (s memSink) jobStatuses(id int64) []string {
	var out []string
	for _, e := range s.Of(history.KindJob) {
		if e.Job == id {
			out = append(out, e.JobStatus)
		}
	}
	return out
}

func (s memSink) storedCount(task string) int {
	n := 0
	for _, e := range s.Of(history.KindStored) {
		if e.Task == task {
			n++
		}
	}
	return n
}

// testConfig is the scaled-down configuration of the tests.
func testConfig(natsURL string) Config {
	return Config{
		NATSURL:        natsURL,
		Token:          testToken,
		ConnectTimeout: 500 * time.Millisecond,
		OpTimeout:      time.Second,
		FetchWait:      200 * time.Millisecond,
		AckWait:        2 * time.Second,
		MaxDeliver:     3,
	}
}

// env is one API in front of one embedded NATS, served over HTTP.
type env struct {
	t      testing.TB
	nats   *natsd.Server
	api    *API
	sink   memSink
	base   string
	client *http.Client
	busy   atomic.Int64 // requests in the API's handler
	js     jetstream.JetStream
	nc     *nats.Conn // the test's own connection, for publishing and inspection
}

type envOpt func(*Config)

func withVariant(v string) envOpt { return func(c *Config) { c.Variant = v } }

func withAckWait(d time.Duration) envOpt { return func(c *Config) { c.AckWait = d } }

func withNATSURL(u string) envOpt { return func(c *Config) { c.NATSURL = u } }

// newEnv starts NATS (unless ns is given), the API and an HTTP server; all
// are closed by t.Cleanup.
func newEnv(t testing.TB, ns *natsd.Server, opts ...envOpt) *env {
	t.Helper()
	if ns == nil {
		ns = natsdtest.StartNATS(t)
	}
	e := &env{t: t, nats: ns, sink: memSink{history.NewMemory()}}
	cfg := testConfig(ns.ClientURL())
	cfg.Sink = e.sink
	for _, o := range opts {
		o(&cfg)
	}
	a, err := New(cfg)
	require.NoError(t, err)
	e.api = a
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.busy.Add(1)
		defer e.busy.Add(-1)
		a.Handler().ServeHTTP(w, r)
	}))
	tr := &http.Transport{}
	e.client = &http.Client{Transport: tr}
	e.base = srv.URL
	e.nc, e.js = natsdtest.ConnectJS(t, ns.ClientURL()) // closed after the cleanup below
	t.Cleanup(func() {
		a.Close()
		srv.Close()
		tr.CloseIdleConnections()
	})
	return e
}

// do sends one request; token "" sends no Authorization header. It returns
// the status and body, or status 0 and the error's text when no response
// came within timeout.
func (e *env) do(method, path, token string, body any, timeout time.Duration) (int, []byte) {
	e.t.Helper()
	var b []byte
	switch body := body.(type) {
	case nil:
	case string:
		b = []byte(body)
	default:
		var err error
		b, err = json.Marshal(body)
		require.NoError(e.t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	status, out, err := apicall.Do(ctx, e.client, apicall.Request{Method: method, URL: e.base + path, Body: b, Auth: apicall.Auth(token)}, 1<<20)
	if status == 0 {
		return 0, []byte(err.Error())
	}
	require.NoError(e.t, err)
	return status, out
}

func (e *env) createJob(total int, startNow bool) int64 {
	e.t.Helper()
	return e.createJobIn(total, startNow, "")
}

// createJobIn creates a job of the pipeline slug ("": the default).
func (e *env) createJobIn(total int, startNow bool, pipeline string) int64 {
	e.t.Helper()
	req := map[string]any{"name": "t", "dispatch_mode": "async_api", "start_now": startNow, "total": total}
	if pipeline != "" {
		req["pipeline"] = pipeline
	}
	code, body := e.do("POST", "/api/v2/jobs/", testToken, req, 5*time.Second)
	require.Equal(e.t, http.StatusCreated, code, string(body))
	var r struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
	}
	require.NoError(e.t, json.Unmarshal(body, &r))
	return r.ID
}

// publish puts n tasks into job id's stream, named img-<id>-<i>.
func (e *env) publish(id int64, n int) []string {
	e.t.Helper()
	var ids []string
	for i := 1; i <= n; i++ {
		img := fmt.Sprintf("img-%d-%d", id, i)
		p, err := json.Marshal(map[string]any{"id": img, "image_id": img, "image_url": "http://x/" + img, "reply_subject": nil})
		require.NoError(e.t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = e.js.Publish(ctx, protocol.TaskSubject(id), p)
		cancel()
		require.NoError(e.t, err)
		ids = append(ids, img)
	}
	return ids
}

// startedJob creates a started job of total tasks and publishes the first
// n of them (with n < total the job stays STARTED once they are stored).
func (e *env) startedJob(total, n int) (id int64, imgs []string) {
	e.t.Helper()
	id = e.createJob(total, true)
	return id, e.publish(id, n)
}

// requireNoRedelivery asks for a task of job id again and again for
// within: a task that was acked must not come back.
func (e *env) requireNoRedelivery(id int64, within time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		code, tasks := e.tasks(id, 1, 5*time.Second)
		require.Equal(e.t, 200, code)
		require.Empty(e.t, tasks, "an acked task came back")
	}
}

// redelivered waits up to within for a task of job id to be handed out
// again, and returns it.
func (e *env) redelivered(id int64, within time.Duration) protocol.Task {
	e.t.Helper()
	var again []protocol.Task
	polltest.CheckFor(e.t, within, 10*time.Millisecond, func() error {
		code, tasks := e.tasks(id, 1, 5*time.Second)
		if code != 200 || len(tasks) == 0 {
			return fmt.Errorf("no redelivery (status %d)", code)
		}
		again = tasks
		return nil
	})
	return again[0]
}

// dialingTasksCall starts a /tasks call of a new STARTED job of one task in
// the background and waits until it has dialed NATS (a black hole, where
// it hangs until its 2 s); the test waits for the call when it ends.
func (e *env) dialingTasksCall(t testing.TB) {
	t.Helper()
	id := seedJob(e.api, protocol.StatusStarted, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.do("POST", protocol.APIBase+protocol.TasksPath(id), testToken, map[string]int{"batch_size": 1}, 2*time.Second)
	}()
	t.Cleanup(wg.Wait)
	polltest.CheckFor(t, 2*time.Second, 5*time.Millisecond, func() error {
		if e.api.Stats().Dials == 0 {
			return fmt.Errorf("the /tasks call has not dialed NATS yet")
		}
		return nil
	})
}

// reservedJob creates a started job of n published tasks and reserves all
// of them with one /tasks call of batch size batch.
func (e *env) reservedJob(n, batch int) (id int64, imgs []string, tasks []protocol.Task) {
	e.t.Helper()
	id, imgs = e.startedJob(n, n)
	code, tasks := e.tasks(id, batch, 5*time.Second)
	require.Equal(e.t, 200, code)
	require.Len(e.t, tasks, n)
	return id, imgs, tasks
}

// tasks calls /tasks and returns the status and the tasks.
func (e *env) tasks(id int64, n int, timeout time.Duration) (int, []protocol.Task) {
	e.t.Helper()
	code, body := e.do("POST", protocol.APIBase+protocol.TasksPath(id), testToken, map[string]int{"batch_size": n}, timeout)
	if code != http.StatusOK {
		return code, nil
	}
	var r protocol.TasksResponse
	require.NoError(e.t, json.Unmarshal(body, &r), string(body))
	require.NotNil(e.t, r.Tasks, "tasks must be a list, not null: %s", body)
	return code, r.Tasks
}

func successResult(t protocol.Task) map[string]any {
	return map[string]any{
		"reply_subject": *t.ReplySubject,
		"result": map[string]any{
			"pipeline":      "p",
			"source_images": []map[string]any{{"id": t.ImageID, "url": t.ImageURL}},
			"detections":    []any{},
			"total_time":    0.01,
		},
	}
}

func (e *env) postResults(id int64, tasks ...protocol.Task) {
	e.t.Helper()
	var items []any
	for _, t := range tasks {
		items = append(items, successResult(t))
	}
	code, body := e.do("POST", protocol.APIBase+protocol.ResultPath(id), testToken, map[string]any{"results": items}, 5*time.Second)
	require.Equal(e.t, http.StatusOK, code, string(body))
}

func (e *env) streamExists(id int64) bool {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := e.js.Stream(ctx, protocol.StreamName(id))
	if err == jetstream.ErrStreamNotFound {
		return false
	}
	require.NoError(e.t, err)
	return true
}

func (e *env) consumerInfo(id int64) (*jetstream.ConsumerInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := e.js.Consumer(ctx, protocol.StreamName(id), protocol.ConsumerName(id))
	if err != nil {
		return nil, err
	}
	return c.Info(ctx)
}

func jsAPITotal(t testing.TB, s *natsd.Server) uint64 {
	t.Helper()
	var j struct {
		API struct {
			Total uint64 `json:"total"`
		} `json:"api"`
	}
	natsdtest.Monitor(t, s, "/jsz", &j)
	return j.API.Total
}

type varz struct {
	Connections      int    `json:"connections"`
	TotalConnections uint64 `json:"total_connections"`
	Subscriptions    uint64 `json:"subscriptions"`
}

func serverConns(t testing.TB, s *natsd.Server) varz {
	t.Helper()
	var v varz
	natsdtest.Monitor(t, s, "/varz", &v)
	return v
}

// waitConns waits, up to within, until NATS counts want client connections.
func (e *env) waitConns(t testing.TB, want int, within time.Duration) {
	t.Helper()
	polltest.CheckFor(t, within, 10*time.Millisecond, func() error {
		if c := serverConns(t, e.nats); c.Connections != want {
			return fmt.Errorf("%d connections, want %d", c.Connections, want)
		}
		return nil
	})
}

// waitIdle waits until no request handler runs.
func (e *env) waitIdle(t testing.TB) {
	t.Helper()
	polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
		if e.busy.Load() != 0 {
			return errors.New("handler still running")
		}
		return nil
	})
}

// dc is the delivery count of a task's reply subject.
func dc(t testing.TB, task protocol.Task) int {
	t.Helper()
	m, err := ackreply.Parse(*task.ReplySubject)
	require.NoError(t, err)
	return m.Delivered
}

// blackhole accepts TCP connections and never answers: a half-open NATS.
func blackhole(t testing.TB) string {
	t.Helper()
	return "nats://" + tcptest.Blackhole(t)
}

// refused is a URL where nothing listens.
func refused(t testing.TB) string {
	t.Helper()
	return "nats://" + tcptest.FreeAddr(t)
}

// latencyProxy forwards TCP to upstream, delaying every chunk by d in each
// direction: a crude api-nats latency fault.
func latencyProxy(t testing.TB, upstream string, d time.Duration) string {
	t.Helper()
	return forwardOn(t, "127.0.0.1:0", upstream, d)
}

// forwardOn starts on listen (host:port, or a URL nats://host:port) a TCP
// forwarder to upstream that delays every chunk by d in each direction (0:
// none), and returns its URL. It closes with the test.
func forwardOn(t testing.TB, listen, upstream string, d time.Duration) string {
	t.Helper()
	return "nats://" + tcptest.Forward(t, strings.TrimPrefix(listen, "nats://"), strings.TrimPrefix(upstream, "nats://"), d)
}

// eachVariant runs test once per variant of want, in a subtest named after
// the variant, with what that variant should show.
func eachVariant[T any](t *testing.T, want map[string]T, test func(t *testing.T, variant string, want T)) {
	t.Helper()
	for v, w := range want {
		t.Run(v, func(t *testing.T) { test(t, v, w) })
	}
}
