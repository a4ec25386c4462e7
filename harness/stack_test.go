package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/harness/api"
	"github.com/natschaos/natschaos/harness/api/apitest"
	"github.com/natschaos/natschaos/harness/worker"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/poll/polltest"
	"github.com/natschaos/natschaos/protocol"
	"github.com/natschaos/natschaos/protocol/ackreply"
	"github.com/natschaos/natschaos/protocol/apicall"
)

// TestMain checks that nothing the stack starts outlives it: embedded NATS
// and Toxiproxy included, nothing needs to be ignored.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testAckWait is the consumer's ack_wait in these tests: short, so that a
// redelivery is seconds away.
const testAckWait = 2 * time.Second

// newJob creates a job of tasks on s, failing the test when it cannot.
func newJob(t testing.TB, s *Stack, ctx context.Context, tasks int) int64 {
	t.Helper()
	id, err := s.NewJob(ctx, tasks)
	require.NoError(t, err)
	return id
}

// memSink keeps every event of a stack, with the time it arrived.
type memSink struct {
	mu     sync.Mutex
	events []history.Event
	at     []time.Time
}

func (s *memSink) Emit(e history.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
	s.at = append(s.at, time.Now())
}

// of returns the events of kind that match keep (nil keeps all), with their times.
func (s *memSink) of(kind history.Kind, keep func(history.Event) bool) ([]history.Event, []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []history.Event
	var at []time.Time
	for i, e := range s.events {
		if e.Kind == kind && (keep == nil || keep(e)) {
			out = append(out, e)
			at = append(at, s.at[i])
		}
	}
	return out, at
}

func (s *memSink) count(kind history.Kind, keep func(history.Event) bool) int {
	ev, _ := s.of(kind, keep)
	return len(ev)
}

func byReply(reply string) func(history.Event) bool {
	return func(e history.Event) bool { return e.Reply == reply }
}

func byTask(task string) func(history.Event) bool {
	return func(e history.Event) bool { return e.Task == task }
}

// testConfig is a stack scaled down to seconds, like the catalog's.
func testConfig() Config {
	return Config{
		API: api.Config{
			Token:          apitest.Token,
			ConnectTimeout: time.Second,
			OpTimeout:      2 * time.Second,
			FetchWait:      200 * time.Millisecond,
			AckWait:        testAckWait,
			MaxDeliver:     3,
		},
		Worker: worker.Config{
			ID:            "w",
			Preset:        worker.PresetADC,
			BatchSize:     8,
			HTTPTimeout:   2 * time.Second,
			ResultTimeout: 4 * time.Second,
			AbandonAfter:  2 * time.Second,
			ProcessTime:   time.Millisecond,
			IdleSleep:     100 * time.Millisecond,
			Fetchers:      2,
		},
		Workers: 2,
		Seed:    1,
	}
}

// startStack starts a stack whose events go to the returned sink; it is
// closed when the test ends.
func startStack(t testing.TB, cfg Config) (*Stack, *memSink) {
	t.Helper()
	sink := &memSink{}
	s, err := Start(context.Background(), cfg, sink)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s, sink
}

// testCtx is a context bounded by the test's own bound.
func testCtx(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// inject builds the fault spec on link and injects it into s; the fault is
// healed when the test ends, if the test did not heal it.
func inject(t testing.TB, s *Stack, spec faults.Spec, link string) faults.Heal {
	t.Helper()
	f, err := spec.Build("t-"+spec.Name, link)
	require.NoError(t, err)
	heal, err := f.Inject(context.Background(), s)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, heal(context.Background())) })
	return heal
}

// caller calls the API as a worker would, through the worker-api link, and
// keeps no idle connection (goleak).
type caller struct {
	t    testing.TB
	s    *Stack
	http *http.Client
}

// stackWithJob starts a test stack with one job of tasks tasks, and a
// caller that plays a worker on it.
func stackWithJob(t testing.TB, tasks int) (*Stack, *memSink, *caller, int64) {
	s, sink := startStack(t, testConfig())
	return s, sink, newCaller(t, s), newJob(t, s, testCtx(t, 10*time.Second), tasks)
}

func newCaller(t testing.TB, s *Stack) *caller {
	c := &caller{t: t, s: s, http: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true},
	}}
	t.Cleanup(c.http.CloseIdleConnections)
	return c
}

// post POSTs body to path under base, as worker "test". The error is the
// transport's (a dropped response); status and body are the API's.
func (c *caller) post(base, path string, body any) (int, []byte, error) {
	c.t.Helper()
	b, err := json.Marshal(body)
	require.NoError(c.t, err)
	return apicall.Do(context.Background(), c.http, apicall.Request{
		Method: http.MethodPost, URL: base + path, Body: b, Worker: "test", Auth: apicall.Auth(apitest.Token),
	}, 1<<20)
}

// tasks is one /tasks call through worker-api; a transport error fails the test.
func (c *caller) tasks(job int64, batch int) (int, []protocol.Task) {
	c.t.Helper()
	status, data, err := c.post(c.s.WorkerURL(), protocol.TasksPath(job), protocol.TasksRequest{BatchSize: batch})
	require.NoError(c.t, err)
	var out protocol.TasksResponse
	if status == http.StatusOK {
		require.NoError(c.t, json.Unmarshal(data, &out), "body %s", data)
	}
	return status, out.Tasks
}

// one reserves one task of job through worker-api; anything else fails the
// test.
func (c *caller) one(job int64) protocol.Task {
	c.t.Helper()
	status, got := c.tasks(job, 1)
	require.Equal(c.t, http.StatusOK, status)
	require.Len(c.t, got, 1)
	return got[0]
}

// result posts one successful result for task through worker-api.
func (c *caller) result(job int64, task protocol.Task) {
	c.t.Helper()
	body := map[string]any{"results": []any{map[string]any{
		"reply_subject": *task.ReplySubject,
		"result": map[string]any{
			"pipeline":      "test",
			"source_images": []any{map[string]any{"id": task.ImageID, "url": task.ImageURL}},
			"detections":    []any{},
		},
	}}}
	status, data, err := c.post(c.s.WorkerURL(), protocol.ResultPath(job), body)
	require.NoError(c.t, err)
	require.Equal(c.t, http.StatusOK, status, "result: %s", data)
}

func dc(t testing.TB, task protocol.Task) int {
	t.Helper()
	require.NotNil(t, task.ReplySubject)
	m, err := ackreply.Parse(*task.ReplySubject)
	require.NoError(t, err)
	return m.Delivered
}

// ackPending is the consumer's num_ack_pending, read from the monitoring port.
func ackPending(t testing.TB, s *Stack) int {
	t.Helper()
	require.NotNil(t, s.sampler, "no job sampled")
	_, n, found, err := s.sampler.ConsumerState(context.Background())
	require.NoError(t, err)
	require.True(t, found, "consumer of job %d not found", s.Job())
	return n
}

// drain starts the workers and waits until the job needs nothing more.
func drain(t testing.TB, s *Stack, within time.Duration) {
	t.Helper()
	ctx := testCtx(t, within+5*time.Second)
	if s.Workers() == nil {
		require.NoError(t, s.StartWorkers(ctx))
	}
	polltest.CheckFor(t, within, 20*time.Millisecond, func() error {
		ok, err := s.Drained(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("job %d not drained", s.Job())
		}
		return nil
	})
}

// requireStoredOnce checks, through the API's own job endpoint and through
// the stored events, that every published task is stored exactly once.
func requireStoredOnce(t testing.TB, s *Stack, sink *memSink, tasks int) {
	t.Helper()
	job, err := s.Client.Job(context.Background(), s.Job())
	require.NoError(t, err)
	require.Equal(t, protocol.StatusSuccess, job.Status)
	published, _ := sink.of(history.KindPublish, nil)
	require.Len(t, published, tasks)
	var want []string
	for _, p := range published {
		want = append(want, p.Task)
	}
	got := append([]string(nil), job.StoredIDs...)
	sort.Strings(want)
	sort.Strings(got)
	require.Equal(t, want, got, "stored_ids must be the published tasks, each once")
	for _, task := range want {
		require.Equal(t, 1, sink.count(history.KindStored, byTask(task)), "stored events of task %s", task)
	}
}

func TestStackStartsAndClosesCleanly(t *testing.T) {
	s, err := Start(context.Background(), testConfig(), nil)
	require.NoError(t, err)
	for _, link := range []string{faults.LinkAPINATS, faults.LinkWorkerAPI, faults.LinkResultsNATS} {
		require.NotEmpty(t, s.LinkAddr(link), link)
	}
	resp, err := http.Get(s.APIURL() + "/")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	http.DefaultClient.CloseIdleConnections()
	s.Close()
	// Everything is gone: the ports refuse, and goleak (TestMain) finds no goroutine.
	_, err = http.Get(s.APIURL() + "/")
	require.Error(t, err)
	_, err = nats.Connect(s.NATS.ClientURL(), nats.Timeout(200*time.Millisecond), nats.NoReconnect())
	require.Error(t, err)
}

func TestJobDrainsEachTaskStoredOnce(t *testing.T) {
	const tasks = 300
	s, sink := startStack(t, testConfig())
	newJob(t, s, testCtx(t, 10*time.Second), tasks)
	drain(t, s, 30*time.Second)
	requireStoredOnce(t, s, sink, tasks)
	require.Equal(t, 1, sink.count(history.KindConfig, nil))
	// The ack observer hears its copy of each ack on a connection of its
	// own, so the last copies can come after the job is done.
	polltest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n := sink.count(history.KindAck, nil); n < tasks {
			return fmt.Errorf("%d ack events, want %d", n, tasks)
		}
		return nil
	})
	require.Equal(t, tasks, sink.count(history.KindAck, nil), "one ack per task on a healthy run")

	// The taps of the NATS links recorded every connection of the API:
	// /tasks connections on api-nats that pulled what the workers got, the
	// processor's on results-nats that acked every task; once the workers
	// stop, every connection closes.
	s.StopWorkers()
	polltest.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if n, ok := s.OpenNATSConns(); !ok || n > 0 {
			return fmt.Errorf("%d connections open on the NATS links (taps: %v)", n, ok)
		}
		return nil
	})
	sum := map[string]*history.Event{faults.LinkAPINATS: {}, faults.LinkResultsNATS: {}}
	phases := map[string]int{}
	conns, _ := sink.of(history.KindConn, nil)
	for _, e := range conns {
		phases[e.Link+" "+e.Phase]++
		if e.Phase == history.ConnClose {
			require.Empty(t, e.Err, "conn %s/%d", e.Link, e.ConnID)
			a := sum[e.Link]
			a.JSAPI, a.Pulls, a.Acks, a.Msgs, a.Foreign = a.JSAPI+e.JSAPI, a.Pulls+e.Pulls, a.Acks+e.Acks, a.Msgs+e.Msgs, a.Foreign+e.Foreign
		}
	}
	for _, link := range []string{faults.LinkAPINATS, faults.LinkResultsNATS} {
		require.Positive(t, phases[link+" open"], link)
		require.Equal(t, phases[link+" open"], phases[link+" ready"], "%s: every connection completed its handshake", link)
		require.Equal(t, phases[link+" open"], phases[link+" close"], "%s: every connection closed", link)
	}
	handed, _ := sink.of(history.KindHandout, nil)
	require.GreaterOrEqual(t, sum[faults.LinkAPINATS].Msgs, len(handed), "api-nats delivered at least what was handed out")
	require.Positive(t, sum[faults.LinkAPINATS].Pulls)
	require.GreaterOrEqual(t, sum[faults.LinkAPINATS].JSAPI, sum[faults.LinkAPINATS].Pulls)
	require.Equal(t, tasks, sum[faults.LinkResultsNATS].Acks, "one ack per task on results-nats")
	require.Zero(t, sum[faults.LinkAPINATS].Acks+sum[faults.LinkResultsNATS].Pulls)
	require.Zero(t, sum[faults.LinkAPINATS].Foreign+sum[faults.LinkResultsNATS].Foreign)
}

// http_drop_response on /tasks, with the real workers: the API reserved
// tasks in NATS (reserve events, num_ack_pending > 0) while no worker got
// any (no handout); healed, the job completes, every orphan's task comes
// back to a worker after ack_wait, and each task is stored once.
func TestHTTPDropResponseLeavesReservation(t *testing.T) {
	const tasks = 40
	s, sink := startStack(t, testConfig())
	ctx := testCtx(t, 60*time.Second)
	newJob(t, s, ctx, tasks)

	heal := inject(t, s, faults.Spec{Name: "http_drop_response", Attrs: faults.Attrs{"path": "/tasks/"}}, "")
	require.NoError(t, s.StartWorkers(ctx))
	polltest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		reserved := sink.count(history.KindReserve, nil)
		pending := ackPending(t, s)
		handouts := sink.count(history.KindHandout, nil)
		if reserved == 0 || pending == 0 || handouts != 0 {
			return fmt.Errorf("%d reserved, num_ack_pending %d, %d handouts", reserved, pending, handouts)
		}
		return nil
	})
	// Every reserve so far belongs to a /tasks call the rule already dropped.
	orphans, reservedAt := sink.of(history.KindReserve, nil)
	require.NoError(t, heal(context.Background()))
	polltest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if sink.count(history.KindHTTP, func(e history.Event) bool {
			return e.IsTasksCall() && e.Err != ""
		}) == 0 {
			return errors.New("no worker recorded a failed /tasks call")
		}
		return nil
	})

	drain(t, s, 3*testAckWait+10*time.Second) // max_deliver × ack_wait + grace
	requireStoredOnce(t, s, sink, tasks)
	for i, o := range orphans {
		require.Zero(t, sink.count(history.KindHandout, byReply(o.Reply)), "orphan %s reached a worker", o.Reply)
		later, at := sink.of(history.KindHandout, byTask(o.Task))
		require.NotEmpty(t, later, "task %s of an orphan never handed out", o.Task)
		require.Greater(t, later[0].DC, o.DC, "task %s came back as a redelivery", o.Task)
		require.GreaterOrEqual(t, at[0].Sub(reservedAt[i]), testAckWait-200*time.Millisecond,
			"task %s redelivered before ack_wait", o.Task)
	}
}

// nats_restart: the stream, the consumer and its messages survive a restart
// (before the workers start and again mid-run), and the job completes.
func TestNATSRestartKeepsJetStreamState(t *testing.T) {
	const tasks = 400
	s, sink := startStack(t, testConfig())
	ctx := testCtx(t, 60*time.Second)
	job := newJob(t, s, ctx, tasks)

	state := func() (jetstream.StreamState, jetstream.ConsumerConfig, uint64) {
		t.Helper()
		nc, err := nats.Connect(s.NATS.ClientURL())
		require.NoError(t, err)
		defer nc.Close()
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		var si *jetstream.StreamInfo
		var ci *jetstream.ConsumerInfo
		// Right after a restart JetStream may still be recovering its streams.
		polltest.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
			st, err := js.Stream(ctx, protocol.StreamName(job))
			if err != nil {
				return err
			}
			if si, err = st.Info(ctx); err != nil {
				return err
			}
			cons, err := st.Consumer(ctx, protocol.ConsumerName(job))
			if err != nil {
				return err
			}
			ci, err = cons.Info(ctx)
			return err
		})
		return si.State, ci.Config, ci.NumPending
	}
	before, beforeCfg, beforePending := state()
	require.Equal(t, uint64(tasks), before.Msgs)
	require.Equal(t, uint64(tasks), beforePending)

	inject(t, s, faults.Spec{Name: "nats_restart"}, "")
	after, afterCfg, afterPending := state()
	require.Equal(t, before.Msgs, after.Msgs, "messages survive")
	require.Equal(t, before.LastSeq, after.LastSeq)
	require.Equal(t, beforePending, afterPending, "the consumer's position survives")
	require.Equal(t, beforeCfg.AckWait, afterCfg.AckWait)
	require.Equal(t, beforeCfg.MaxDeliver, afterCfg.MaxDeliver)

	// Mid-run: restart once a quarter of the tasks is stored.
	require.NoError(t, s.StartWorkers(ctx))
	polltest.CheckFor(t, 20*time.Second, 10*time.Millisecond, func() error {
		if n := sink.count(history.KindStored, nil); n < tasks/4 {
			return fmt.Errorf("%d tasks stored", n)
		}
		return nil
	})
	inject(t, s, faults.Spec{Name: "nats_restart"}, "")
	drain(t, s, 3*testAckWait+10*time.Second) // max_deliver × ack_wait + grace
	requireStoredOnce(t, s, sink, tasks)
}

// processor_crash between save and ack: the result is stored, never acked,
// the task is redelivered after ack_wait, and storing it again adds nothing.
func TestProcessorCrashRedeliversAndStoresOnce(t *testing.T) {
	const tasks = 2
	s, sink, c, job := stackWithJob(t, tasks)

	first := c.one(job)
	heal := inject(t, s, faults.Spec{Name: "processor_crash", Attrs: faults.Attrs{"every": "1"}}, "")
	c.result(job, first)
	polltest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if sink.count(history.KindStored, byTask(string(first.ImageID))) != 1 {
			return fmt.Errorf("task %s not stored", string(first.ImageID))
		}
		return nil
	})
	require.NoError(t, heal(context.Background()))

	// The processor died before acking: no ack, and after ack_wait the task
	// comes back (the other task is taken and held meanwhile).
	var redelivered *protocol.Task
	polltest.CheckFor(t, testAckWait+5*time.Second, 50*time.Millisecond, func() error {
		status, got := c.tasks(job, 1)
		if status != http.StatusOK {
			return fmt.Errorf("/tasks answered %d", status)
		}
		for _, task := range got {
			if task.ImageID == first.ImageID {
				redelivered = &task
				return nil
			}
		}
		return fmt.Errorf("task %s not redelivered", string(first.ImageID))
	})
	require.Zero(t, sink.count(history.KindAck, byReply(*first.ReplySubject)), "the crashed delivery was acked")
	require.Equal(t, 2, dc(t, *redelivered))
	c.result(job, *redelivered)
	polltest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if sink.count(history.KindAck, byReply(*redelivered.ReplySubject)) != 1 {
			return fmt.Errorf("redelivery of %s not acked", string(first.ImageID))
		}
		return nil
	})
	require.Equal(t, 1, sink.count(history.KindStored, byTask(string(first.ImageID))), "stored once")
	job2, err := s.Client.Job(context.Background(), job)
	require.NoError(t, err)
	require.Equal(t, []string{string(first.ImageID)}, job2.StoredIDs)
	require.Equal(t, protocol.StatusStarted, job2.Status, "one of two tasks stored")
}

// down on api-nats: /tasks answers 503 fast; healed, it serves tasks again.
func TestDownOnAPINATSAnswers503AndHeals(t *testing.T) {
	s, _, c, job := stackWithJob(t, 20)

	heal := inject(t, s, faults.Spec{Name: "down"}, faults.LinkAPINATS)
	conn, err := net.DialTimeout("tcp", s.LinkAddr(faults.LinkAPINATS), time.Second)
	if err == nil {
		_ = conn.Close()
	}
	require.Error(t, err, "a link that is down refuses connections")
	start := time.Now()
	status, _ := c.tasks(job, 1)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Less(t, time.Since(start), s.API().Config().ConnectTimeout+time.Second, "503 must be fast")

	require.NoError(t, heal(context.Background()))
	polltest.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		status, got := c.tasks(job, 1)
		if status != http.StatusOK || len(got) != 1 {
			return fmt.Errorf("/tasks answered %d with %d tasks", status, len(got))
		}
		return nil
	})
}

// latency on api-nats: every /tasks pays it (several NATS round trips);
// healing removes it.
func TestLatencyOnAPINATSSlowsTasks(t *testing.T) {
	const latency = 100 * time.Millisecond
	s, _, c, job := stackWithJob(t, 100)
	fastest := func(n int) time.Duration {
		t.Helper()
		best := time.Hour
		for range n {
			start := time.Now()
			status, got := c.tasks(job, 1)
			d := time.Since(start)
			require.Equal(t, http.StatusOK, status)
			require.Len(t, got, 1)
			best = min(best, d)
		}
		return best
	}
	healthy := fastest(5)

	heal := inject(t, s, faults.Spec{Name: "latency", Attrs: faults.Attrs{"latency": latency.String()}}, faults.LinkAPINATS)
	slowed := fastest(3)
	require.GreaterOrEqual(t, slowed, latency, "healthy %s, with %s latency %s", healthy, latency, slowed)

	require.NoError(t, heal(context.Background()))
	healed := fastest(5)
	require.Less(t, healed, latency, "healthy %s, with latency %s, healed %s", healthy, slowed, healed)
	t.Logf("fastest /tasks: healthy %s, with %s latency on api-nats %s, healed %s", healthy, latency, slowed, healed)
}

// The embedded links listen below the kernel's ephemeral range, so that
// while a `down` fault has a link's listener closed, no outgoing connection
// of the machine can be given its port and the heal can listen again.
func TestLinksListenBelowEphemeralRange(t *testing.T) {
	s, _ := startStack(t, testConfig())
	high := ephemeralLow()
	for _, link := range []string{faults.LinkAPINATS, faults.LinkResultsNATS, faults.LinkWorkerAPI} {
		_, port, err := net.SplitHostPort(s.LinkAddr(link))
		require.NoError(t, err)
		p, err := strconv.Atoi(port)
		require.NoError(t, err)
		require.GreaterOrEqual(t, p, lowestLinkPort, link)
		require.Less(t, p, high, "%s listens on %d, inside the ephemeral range from %d", link, p, high)
	}
}

// api_restart: the API stops — a task it reserved and handed out stays
// reserved in NATS — and a new one serves the same job on the same address:
// the held task's result is stored and the job completes.
func TestAPIRestartKeepsTheJob(t *testing.T) {
	const tasks = 3
	s, sink, c, job := stackWithJob(t, tasks)
	held := c.one(job)

	old := s.API()
	took, err := s.RestartAPI(testCtx(t, 15*time.Second))
	require.NoError(t, err)
	require.NotSame(t, old, s.API(), "a new API serves")
	require.Less(t, took, time.Second, "stopping aborts the API's work at once")
	_, ok := s.API().Job(job)
	require.True(t, ok, "the new API has the old one's job (one database)")

	c.result(job, held) // the delivery the old API handed out
	for range tasks - 1 {
		c.result(job, c.one(job))
	}
	polltest.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		j, err := s.Client.Job(context.Background(), job)
		if err != nil {
			return err
		}
		if j.Status != protocol.StatusSuccess {
			return fmt.Errorf("job %d is %s", job, j.Status)
		}
		return nil
	})
	requireStoredOnce(t, s, sink, tasks)
}

// ForgetJob drops an ended job from the API and what the embedded server
// kept of its deleted stream (the registration of its "direct gets"
// queue); a job still running is kept.
func TestForgetJobDropsWhatTheJobLeft(t *testing.T) {
	s, _ := startStack(t, testConfig())
	queues := func(id int64, name string) int {
		st := s.NATS.NATS().Ipqueuesz(&server.IpqueueszOptions{All: true, Filter: "'" + protocol.StreamName(id) + "' " + name})
		return len(*st)
	}
	gets := func(id int64) int { return queues(id, "direct gets") }
	id := newJob(t, s, testCtx(t, 10*time.Second), 50)
	s.ForgetJob(id)
	require.Equal(t, 1, gets(id), "a running job's stream is left alone")
	_, ok := s.API().JobStatus(id)
	require.True(t, ok, "a running job is kept")

	drain(t, s, 30*time.Second)
	polltest.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if queues(id, "messages") > 0 { // unregistered when the stream is deleted
			return errors.New("the job's stream is not deleted yet")
		}
		return nil
	})
	require.Equal(t, 1, gets(id), "nats-server keeps the deleted stream's queue: ForgetStream can go")
	s.ForgetJob(id)
	require.Zero(t, gets(id))
	_, ok = s.API().JobStatus(id)
	require.False(t, ok)
}
