package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/poll/polltest"
	"github.com/natschaos/natschaos/protocol"
)

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no nats url", Config{}, "NATSURL is required"},
		{"unknown variant", Config{NATSURL: "nats://x", Variant: "bogus"}, `unknown variant "bogus" (valid: ack-before-save, `},
		{"negative duration", Config{NATSURL: "nats://x", AckWait: -time.Second}, "AckWait -1s is negative"},
		{"negative count", Config{NATSURL: "nats://x", MaxConcurrent: -1}, "MaxConcurrent -1 is negative"},
		{"processes and max concurrent", Config{NATSURL: "nats://x", Processes: 2, MaxConcurrent: 4}, "either Processes"},
		{"threads alone", Config{NATSURL: "nats://x", Threads: 2}, "Threads needs Processes"},
		{"defaults", Config{NATSURL: "nats://x"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(tt.cfg)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			defer a.Close()
			c := a.Config()
			require.Equal(t, protocol.VariantGood, c.Variant)
			require.Equal(t, "nats://x", c.ResultsNATSURL)
			require.Equal(t, 5*time.Second, c.ConnectTimeout)
			require.Equal(t, 10*time.Second, c.OpTimeout)
			require.Equal(t, 500*time.Millisecond, c.FetchWait)
			require.Equal(t, 300*time.Second, c.AckWait)
			require.Equal(t, 2, c.MaxDeliver)
			require.Equal(t, 1000, c.MaxAckPending)
		})
	}
}

func TestVariantsListed(t *testing.T) {
	vs := protocol.Variants()
	require.Equal(t, protocol.VariantGood, vs[0].Name)
	seen := map[string]bool{}
	for _, v := range vs {
		require.False(t, seen[v.Name], "duplicate %s", v.Name)
		seen[v.Name] = true
		require.NotEmpty(t, v.Description)
		require.NotContains(t, v.Description, "\n")
		a, err := New(Config{NATSURL: "nats://x", Variant: v.Name})
		require.NoError(t, err)
		a.Close()
	}
	require.Len(t, seen, 22) // good, pooled, 19 caught by a run, slow-leak caught by a soak
	require.Len(t, behaviours, len(seen), "a behaviour for every variant, and for nothing else")
	_, err := New(Config{NATSURL: "nats://x", Variant: "bogus"})
	for name := range seen {
		require.ErrorContains(t, err, name, "the unknown-variant error lists every variant")
	}
}

func TestLivenessNeedsNoNATSNorToken(t *testing.T) {
	e := newEnv(t, nil, withNATSURL(refused(t)))
	code, _ := e.do("GET", "/api/v2/", "", nil, time.Second)
	require.Equal(t, http.StatusOK, code)
	require.Zero(t, e.api.Stats().Dials)
}

func TestOrderOfChecks(t *testing.T) {
	e := newEnv(t, nil)
	id := e.createJob(1, true)
	job := fmt.Sprintf("/api/v2/jobs/%d", id)
	good := map[string]int{"batch_size": 1}
	tests := []struct {
		name  string
		path  string
		token string
		body  any
		want  int
	}{
		{"tasks: bad body beats unknown job and token", "/api/v2/jobs/999/tasks/", "", "{", 400},
		{"tasks: batch 0 is a bad body", job + "/tasks/", "", map[string]int{"batch_size": 0}, 400},
		{"tasks: missing batch is a bad body", job + "/tasks/", "", map[string]int{}, 400},
		{"tasks: unknown job beats token", "/api/v2/jobs/999/tasks/", "", good, 404},
		{"tasks: non-numeric id is unknown", "/api/v2/jobs/abc/tasks/", "", good, 404},
		{"tasks: missing token", job + "/tasks/", "", good, 401},
		{"tasks: wrong token", job + "/tasks/", "nope", good, 401},
		{"tasks: ok", job + "/tasks/", testToken, good, 200},
		{"result: bad item beats unknown job", "/api/v2/jobs/999/result/", "", map[string]any{"results": []any{map[string]any{"reply_subject": "x"}}}, 400},
		{"result: unknown job beats token", "/api/v2/jobs/999/result/", "", map[string]any{"results": []any{}}, 404},
		{"result: missing token", job + "/result/", "", map[string]any{"results": []any{}}, 401},
		{"job: unknown", "/api/v2/jobs/999/", testToken, nil, 404},
		{"job: missing token", job + "/", "", nil, 401},
		{"jobs: missing token", "/api/v2/jobs/", "", nil, 401},
		{"create: bad body beats token", "/api/v2/jobs/", "", map[string]any{"total": 0}, 400},
		{"create: missing token", "/api/v2/jobs/", "", map[string]any{"total": 1}, 401},
		{"cancel: unknown job beats token", "/api/v2/jobs/999/cancel/", "", nil, 404},
		{"cancel: missing token", job + "/cancel/", "", nil, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "POST"
			if tt.body == nil && !strings.HasSuffix(tt.path, "/cancel/") {
				method = "GET"
			}
			code, body := e.do(method, tt.path, tt.token, tt.body, 5*time.Second)
			require.Equal(t, tt.want, code, string(body))
		})
	}
}

func TestResultValidation(t *testing.T) {
	const reply = "$JS.ACK.job_1.job-1-consumer.1.1.1.1700000000000000000.0"
	tests := []struct {
		name   string
		item   string
		task   string
		errHas string
	}{
		{"success", `{"reply_subject":"` + reply + `","result":{"pipeline":"p","source_images":[{"id":"a","url":"u"}],"detections":[],"total_time":1.5}}`, "a", ""},
		{"numeric image id", `{"reply_subject":"` + reply + `","result":{"pipeline":"p","source_images":[{"id":7}]}}`, "7", ""},
		{"error result", `{"reply_subject":"` + reply + `","result":{"error":"boom","image_id":"b"}}`, "b", ""},
		{"no reply", `{"result":{"error":"boom","image_id":"b"}}`, "", "reply_subject is required"},
		{"reply not an ack subject", `{"reply_subject":"$JS.API.STREAM.DELETE.job_1","result":{"error":"boom","image_id":"b"}}`, "", "reply_subject"},
		{"no result", `{"reply_subject":"` + reply + `"}`, "", "result must be an object"},
		{"error without image", `{"reply_subject":"` + reply + `","result":{"error":"boom"}}`, "", "needs image_id"},
		{"no source images", `{"reply_subject":"` + reply + `","result":{"pipeline":"p","source_images":[]}}`, "", "source_images"},
		{"detections not a list", `{"reply_subject":"` + reply + `","result":{"pipeline":"p","source_images":[{"id":"a"}],"detections":{}}}`, "", "detections"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var item protocol.ResultItem
			require.NoError(t, json.Unmarshal([]byte(tt.item), &item))
			it, err := parseResultItem(item)
			if tt.errHas != "" {
				require.ErrorContains(t, err, tt.errHas)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.task, it.task)
			require.Equal(t, reply, it.reply)
		})
	}
}

// seedJob adds a job straight to the API's store, without NATS: for APIs
// pointed at an unreachable NATS.
func seedJob(a *API, status string, total int) int64 {
	id := a.jobs.nextID()
	a.jobs.add(&job{
		id: id, pipeline: DefaultPipeline, status: status, total: total,
		processed: map[string]struct{}{}, results: map[string]json.RawMessage{}, stored: map[string]struct{}{},
	})
	return id
}

func TestServeAndClose(t *testing.T) {
	a, err := New(Config{NATSURL: refused(t)})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- a.Serve(ln) }()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
		resp, err := (&http.Client{Transport: tr}).Get("http://" + ln.Addr().String() + "/api/v2/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	a.Close()
	require.NoError(t, <-served)
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.ErrorIs(t, a.Serve(ln2), ErrClosed)
}

func TestCreateAndListJobs(t *testing.T) {
	e := newEnv(t, nil)
	started := e.createJob(2, true)
	created := e.createJob(2, false)
	require.Equal(t, int64(1), started)
	require.Equal(t, int64(2), created)
	require.True(t, e.streamExists(started))
	require.True(t, e.streamExists(created))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	adv, err := e.js.Stream(ctx, "advisories")
	require.NoError(t, err)
	require.Equal(t, []string{"$JS.EVENT.ADVISORY.>"}, adv.CachedInfo().Config.Subjects)
	require.Equal(t, time.Hour, adv.CachedInfo().Config.MaxAge)
	st, err := e.js.Stream(ctx, protocol.StreamName(started))
	require.NoError(t, err)
	require.Equal(t, 24*time.Hour, st.CachedInfo().Config.MaxAge)
	require.Equal(t, []string{"job.1.tasks"}, st.CachedInfo().Config.Subjects)

	other := e.createJobIn(1, true, "other")
	tests := []struct {
		query string
		want  []int64
		count int
	}{
		{"", []int64{1, 2, 3}, 3},
		// Incomplete includes a job not yet started; ids_only without a
		// limit is one job per poll (the oldest), count says how many match.
		{"?ids_only=1&incomplete_only=1", []int64{1}, 3},
		{"?ids_only=1&incomplete_only=1&limit=10", []int64{1, 2, 3}, 3},
		{"?ids_only=1&pipeline__slug__in=default&limit=10", []int64{1, 2}, 2},
		{"?ids_only=1&pipeline__slug__in=other,nope&limit=10", []int64{other}, 1},
		{"?ids_only=1&pipeline__slug__in=nope", nil, 0},
	}
	for _, tt := range tests {
		code, body := e.do("GET", "/api/v2/jobs/"+tt.query, testToken, nil, time.Second)
		require.Equal(t, 200, code)
		var r struct {
			Count   int `json:"count"`
			Results []struct {
				ID       int64  `json:"id"`
				Pipeline string `json:"pipeline_slug"`
			} `json:"results"`
		}
		require.NoError(t, json.Unmarshal(body, &r))
		var got []int64
		for _, j := range r.Results {
			got = append(got, j.ID)
			want := DefaultPipeline
			if j.ID == other {
				want = "other"
			}
			require.Equal(t, want, j.Pipeline)
		}
		require.Equal(t, tt.want, got, tt.query)
		require.Equal(t, tt.count, r.Count, tt.query)
	}
	code, _ := e.do("GET", "/api/v2/jobs/?limit=0", testToken, nil, time.Second)
	require.Equal(t, http.StatusBadRequest, code)
	// The job events name the job's pipeline.
	for _, ev := range e.sink.Of(history.KindJob) {
		want := DefaultPipeline
		if ev.Job == other {
			want = "other"
		}
		require.Equal(t, want, ev.Pipeline, "job event %+v", ev)
	}
	require.Equal(t, []string{protocol.StatusStarted}, e.sink.jobStatuses(started))
}

// TestTerminalGuardNoNATSTraffic: a job that is not STARTED/RETRY gets
// 200 [] without the API opening a single NATS connection.
func TestTerminalGuardNoNATSTraffic(t *testing.T) {
	e := newEnv(t, nil)
	notStarted := e.createJob(2, false)
	e.publish(notStarted, 2)
	cancelled := e.createJob(2, true)
	code, _ := e.do("POST", protocol.APIBase+protocol.CancelPath(cancelled), testToken, nil, 5*time.Second)
	require.Equal(t, 200, code)
	for _, id := range []int64{notStarted, cancelled} {
		before, srvBefore, apiBefore := e.api.Stats(), serverConns(t, e.nats), jsAPITotal(t, e.nats)
		code, tasks := e.tasks(id, 5, 5*time.Second)
		require.Equal(t, 200, code)
		require.Empty(t, tasks)
		after, srvAfter := e.api.Stats(), serverConns(t, e.nats)
		require.Equal(t, before.Dials, after.Dials, "job %d: the API dialed NATS", id)
		require.Equal(t, srvBefore.TotalConnections, srvAfter.TotalConnections, "job %d: NATS saw a connection", id)
		require.Equal(t, apiBefore, jsAPITotal(t, e.nats), "job %d: JetStream API called", id)
	}
}

func TestMissingStream(t *testing.T) {
	eachVariant(t, map[string]bool{protocol.VariantGood: false, protocol.VariantRecreateStream: true}, func(t *testing.T, variant string, recreated bool) {
		e := newEnv(t, nil, withVariant(variant))
		id := e.createJob(3, true)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, e.js.DeleteStream(ctx, protocol.StreamName(id)))
		code, tasks := e.tasks(id, 3, 5*time.Second)
		require.Equal(t, 200, code)
		require.Empty(t, tasks)
		require.Equal(t, recreated, e.streamExists(id))
	})
}

// TestNATSUnreachable: NATS refusing or half-open (accepting TCP, never
// answering) gives a 503 within ConnectTimeout + 500ms, except for the
// variants that break exactly that.
func TestNATSUnreachable(t *testing.T) {
	const bound = 500*time.Millisecond + 500*time.Millisecond // ConnectTimeout + 500ms
	const notRun = -1                                         // the variant does not differ from good there
	type try struct {
		variant, nats string
		url           func(testing.TB) string
		want          int // 0: no answer within the client's timeout
	}
	var tests []try
	for _, v := range []struct {
		variant            string
		refused, blackhole int // the status of each
	}{
		{protocol.VariantGood, 503, 503},
		{protocol.VariantReconnect, 503, notRun},
		{protocol.VariantSwallowTimeout, 200, 200},
		{protocol.VariantNoConnectTimeout, notRun, 0},
		{protocol.VariantEmptyOnError, 200, 503},
		{protocol.VariantConnectRetryOnRefused, 0, 503},
		{protocol.VariantPooled, 503, 503},
	} {
		for _, tt := range []try{{v.variant, "refused", refused, v.refused}, {v.variant, "blackhole", blackhole, v.blackhole}} {
			if tt.want != notRun {
				tests = append(tests, tt)
			}
		}
	}
	for _, tt := range tests {
		t.Run(tt.variant+" "+tt.nats, func(t *testing.T) {
			bad := newEnv(t, nil, withVariant(tt.variant), withNATSURL(tt.url(t)))
			id := seedJob(bad.api, protocol.StatusStarted, 3)
			start := time.Now()
			code, body := bad.do("POST", protocol.APIBase+protocol.TasksPath(id), testToken, map[string]int{"batch_size": 3}, 2*bound)
			took := time.Since(start)
			require.Equal(t, tt.want, code, string(body))
			switch code {
			case 503:
				require.JSONEq(t, `{"error": "Task queue temporarily unavailable"}`, string(body))
				require.Less(t, took, bound)
			case 200:
				require.JSONEq(t, `{"tasks": []}`, string(body))
				require.Less(t, took, bound)
			}
		})
	}
}

// TestOnePullPerBatch: a /tasks call makes one pull request (MSG.NEXT) and
// at most 4 JetStream API calls whatever its batch; the one-by-one variant
// makes one pull and about 4 API calls per task.
func TestOnePullPerBatch(t *testing.T) {
	tests := []struct {
		variant     string
		batches     []int
		maxPulls    func(batch int) int
		maxAPICalls func(batch int) int
		minAPICalls func(batch int) int
	}{
		{protocol.VariantGood, []int{1, 5, 20},
			func(int) int { return 1 }, func(int) int { return 4 }, func(int) int { return 2 }},
		{protocol.VariantReserveOneByOne, []int{5, 10},
			func(b int) int { return b }, func(b int) int { return 5 * b }, func(b int) int { return 4 * b }},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			e := newEnv(t, nil, withVariant(tt.variant))
			id, _ := e.startedJob(100, 60)
			// A channel subscription: the pull requests the server sent before
			// the PONG of a Flush are in the channel when Flush returns, so
			// draining it after a Flush counts exactly one call's pulls
			// (an async callback could still be running the previous call's).
			pullCh := make(chan *nats.Msg, 1024)
			sub, err := e.nc.ChanSubscribe("$JS.API.CONSUMER.MSG.NEXT.>", pullCh)
			require.NoError(t, err)
			defer func() { _ = sub.Unsubscribe() }()
			drain := func() int {
				require.NoError(t, e.nc.Flush())
				n := 0
				for {
					select {
					case <-pullCh:
						n++
					default:
						return n
					}
				}
			}
			drain()
			// The first call creates the consumer; measure the steady state.
			code, _ := e.tasks(id, 1, 5*time.Second)
			require.Equal(t, 200, code)
			for _, b := range tt.batches {
				drain()
				before := jsAPITotal(t, e.nats)
				code, tasks := e.tasks(id, b, 10*time.Second)
				require.Equal(t, 200, code)
				require.Len(t, tasks, b)
				calls := int(jsAPITotal(t, e.nats) - before)
				got := drain()
				require.LessOrEqual(t, got, tt.maxPulls(b), "batch %d: pull requests", b)
				require.GreaterOrEqual(t, got, 1)
				require.LessOrEqual(t, calls, tt.maxAPICalls(b), "batch %d: JetStream API calls", b)
				require.GreaterOrEqual(t, calls, tt.minAPICalls(b), "batch %d: JetStream API calls", b)
			}
		})
	}
}

// TestTasksResponseAndReserveEvents: the tasks carry the payload and the
// $JS.ACK reply subject, and every delivery is a reserve event.
func TestTasksResponseAndReserveEvents(t *testing.T) {
	e := newEnv(t, nil)
	id, imgs, tasks := e.reservedJob(3, 10)
	reserves := e.sink.Of("reserve")
	require.Len(t, reserves, 3)
	for i, task := range tasks {
		require.Equal(t, imgs[i], string(task.ID))
		require.Equal(t, imgs[i], string(task.ImageID))
		require.Equal(t, "http://x/"+imgs[i], task.ImageURL)
		require.True(t, strings.HasPrefix(*task.ReplySubject, "$JS.ACK."))
		r := reserves[i]
		require.Equal(t, imgs[i], r.Task)
		require.Equal(t, *task.ReplySubject, r.Reply)
		require.Equal(t, uint64(i+1), r.SSeq)
		require.Equal(t, uint64(i+1), r.DSeq)
		require.Equal(t, 1, r.DC)
	}
	info, err := e.consumerInfo(id)
	require.NoError(t, err)
	require.Equal(t, 2*time.Second, info.Config.AckWait)
	require.Equal(t, 3, info.Config.MaxDeliver)
	require.Equal(t, 1000, info.Config.MaxAckPending)
	require.Equal(t, jetstream.AckExplicitPolicy, info.Config.AckPolicy)
	require.Equal(t, jetstream.DeliverAllPolicy, info.Config.DeliverPolicy)
	require.Equal(t, "job.1.tasks", info.Config.FilterSubject)
	require.Equal(t, 3, info.NumAckPending)
}

// ackWatch records the ack replies published on a job's ack subjects, and
// whether the task was already stored by the API when each ack was seen.
type ackWatch struct {
	mu     sync.Mutex
	acks   map[string]bool // reply -> stored when acked
	sub    *nats.Subscription
	stored func(reply string) bool
}

func watchAcks(t testing.TB, e *env, id int64, byReply map[string]string) *ackWatch {
	t.Helper()
	w := &ackWatch{acks: map[string]bool{}}
	var mu sync.Mutex
	sub, err := e.nc.Subscribe("$JS.ACK."+protocol.StreamName(id)+".>", func(m *nats.Msg) {
		mu.Lock()
		task := byReply[m.Subject]
		mu.Unlock()
		j, _ := e.api.Job(id)
		stored := false
		for _, s := range j.StoredIDs {
			stored = stored || s == task
		}
		w.mu.Lock()
		w.acks[m.Subject] = stored
		w.mu.Unlock()
	})
	require.NoError(t, err)
	require.NoError(t, e.nc.Flush())
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return w
}

func (w *ackWatch) acked(reply string) (acked, storedFirst bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.acks[reply]
	return ok, s
}

// TestProcessorCrash: the processor dies between storing and acking (good:
// store, then ack) or between acking and storing (ack-before-save). Good:
// the task comes back after ack_wait, is stored once and then acked.
// ack-before-save: acked, never stored, never redelivered: lost.
func TestProcessorCrash(t *testing.T) {
	const ackWait = time.Second
	eachVariant(t, map[string]bool{protocol.VariantGood: false, protocol.VariantAckBeforeSave: true}, func(t *testing.T, variant string, lost bool) {
		e := newEnv(t, nil, withVariant(variant), withAckWait(ackWait))
		id, imgs := e.startedJob(2, 1)
		replies := map[string]string{}
		w := watchAcks(t, e, id, replies)
		var mu sync.Mutex
		crashes := 0
		e.api.SetProcessorCrash(func() bool {
			mu.Lock()
			defer mu.Unlock()
			crashes++
			return crashes == 1
		})
		code, tasks := e.tasks(id, 1, 5*time.Second)
		require.Equal(t, 200, code)
		require.Len(t, tasks, 1)
		first := tasks[0]
		e.postResults(id, first)
		polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
			mu.Lock()
			defer mu.Unlock()
			if crashes < 1 {
				return fmt.Errorf("the processor did not take the result")
			}
			return nil
		})
		if lost {
			polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
				if ok, _ := w.acked(*first.ReplySubject); !ok {
					return fmt.Errorf("no ack for %s", *first.ReplySubject)
				}
				return nil
			})
			// Nothing comes back after ack_wait, and nothing is stored.
			e.requireNoRedelivery(id, ackWait+500*time.Millisecond)
			j, _ := e.api.Job(id)
			require.Empty(t, j.StoredIDs, "the result was stored")
			require.Zero(t, e.sink.storedCount(imgs[0]))
			return
		}
		polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
			if e.sink.storedCount(imgs[0]) != 1 {
				return fmt.Errorf("not stored")
			}
			return nil
		})
		ok, _ := w.acked(*first.ReplySubject)
		require.False(t, ok, "acked although the processor died before the ack")
		// NATS redelivers it after ack_wait.
		again := e.redelivered(id, 3*ackWait)
		require.Equal(t, imgs[0], string(again.ImageID))
		require.Equal(t, 2, dc(t, again))
		mu.Lock()
		replies[*again.ReplySubject] = string(again.ImageID)
		mu.Unlock()
		e.postResults(id, again)
		polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
			if ok, _ := w.acked(*again.ReplySubject); !ok {
				return fmt.Errorf("redelivery not acked")
			}
			return nil
		})
		_, storedFirst := w.acked(*again.ReplySubject)
		require.True(t, storedFirst, "acked before the result was stored")
		j, _ := e.api.Job(id)
		require.Equal(t, []string{imgs[0]}, j.StoredIDs)
		require.Equal(t, 1, e.sink.storedCount(imgs[0]), "stored twice")
		polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
			info, err := e.consumerInfo(id)
			if err != nil {
				return err
			}
			if info.NumAckPending != 0 {
				return fmt.Errorf("ack pending %d", info.NumAckPending)
			}
			return nil
		})
	})
}

// TestJobCompletion: the last stored result makes the job SUCCESS and
// deletes its consumer and stream; every result is acked after it is stored.
func TestJobCompletion(t *testing.T) {
	e := newEnv(t, nil)
	id, imgs, tasks := e.reservedJob(3, 3)
	replies := map[string]string{}
	for _, task := range tasks {
		replies[*task.ReplySubject] = string(task.ImageID)
	}
	w := watchAcks(t, e, id, replies)
	// Cleanup deletes the stream in one call: never the consumer alone, or a
	// /tasks racing the job's end would create a fresh consumer that hands
	// every task out again.
	consumerDeletes := make(chan *nats.Msg, 8)
	sub, err := e.nc.ChanSubscribe("$JS.API.CONSUMER.DELETE.>", consumerDeletes)
	require.NoError(t, err)
	defer func() { _ = sub.Unsubscribe() }()
	require.NoError(t, e.nc.Flush())
	e.postResults(id, tasks...)
	polltest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		j, _ := e.api.Job(id)
		if j.Status != protocol.StatusSuccess {
			return fmt.Errorf("job %s", j.Status)
		}
		return nil
	})
	require.Equal(t, []string{protocol.StatusStarted, protocol.StatusSuccess}, e.sink.jobStatuses(id))
	for _, img := range imgs {
		require.Equal(t, 1, e.sink.storedCount(img))
	}
	for _, task := range tasks[:2] { // the last ack may follow the deletion
		polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
			if ok, _ := w.acked(*task.ReplySubject); !ok {
				return fmt.Errorf("not acked: %s", task.ImageID)
			}
			return nil
		})
		_, storedFirst := w.acked(*task.ReplySubject)
		require.True(t, storedFirst)
	}
	// The job is SUCCESS once its last result is stored; the processor
	// deletes its stream next, before that result's ack.
	polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
		if e.streamExists(id) {
			return fmt.Errorf("stream of job %d still exists", id)
		}
		return nil
	})
	_, err = e.consumerInfo(id)
	require.Error(t, err)
	require.NoError(t, e.nc.Flush())
	require.Empty(t, consumerDeletes, "cleanup deleted the consumer on its own")

	code, body := e.do("GET", protocol.APIBase+protocol.JobPath(id), testToken, nil, time.Second)
	require.Equal(t, 200, code)
	var j protocol.Job
	require.NoError(t, json.Unmarshal(body, &j))
	require.Equal(t, protocol.Progress{Stored: 3, Total: 3}, j.Progress)
	require.ElementsMatch(t, imgs, j.StoredIDs)

	// A stale result for the finished job is accepted and changes nothing.
	e.postResults(id, tasks[0])
	code, tasks = e.tasks(id, 3, time.Second)
	require.Equal(t, 200, code)
	require.Empty(t, tasks)
}

func TestCancel(t *testing.T) {
	e := newEnv(t, nil)
	id, _ := e.startedJob(3, 3)
	code, tasks := e.tasks(id, 1, 5*time.Second)
	require.Equal(t, 200, code)
	require.Len(t, tasks, 1)
	code, body := e.do("POST", protocol.APIBase+protocol.CancelPath(id), testToken, nil, 5*time.Second)
	require.Equal(t, 200, code, string(body))
	require.JSONEq(t, fmt.Sprintf(`{"id": %d, "status": "REVOKED"}`, id), string(body))
	require.Equal(t, []string{protocol.StatusStarted, protocol.StatusCanceling, protocol.StatusRevoked}, e.sink.jobStatuses(id))
	require.False(t, e.streamExists(id))
	code, tasks = e.tasks(id, 3, time.Second)
	require.Equal(t, 200, code)
	require.Empty(t, tasks)
	// Cancelling again changes nothing.
	j, err := e.api.CancelJob(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, protocol.StatusRevoked, j.Status)
	require.Len(t, e.sink.jobStatuses(id), 3)
	_, err = e.api.CancelJob(context.Background(), 999)
	require.ErrorIs(t, err, ErrNotFound)
}

// TestCancelCleansUpOnProcessorConnection: a cancel's deletions are the
// background task queue's work, on the result processor's connection (the
// results-nats link), not on a connection of the request; with that link
// half-open the cancel answers 503 and the job stays CANCELING, terminal
// for /tasks, with its stream kept for a later cancel to delete.
func TestCancelCleansUpOnProcessorConnection(t *testing.T) {
	t.Run("healthy", func(t *testing.T) {
		e := newEnv(t, nil)
		id := e.createJob(3, true)
		before := e.api.Stats()
		code, body := e.do("POST", protocol.APIBase+protocol.CancelPath(id), testToken, nil, 5*time.Second)
		require.Equal(t, 200, code, string(body))
		after := e.api.Stats()
		require.Equal(t, before.RequestConns, after.RequestConns, "the cancel request opened a connection of its own")
		require.Equal(t, before.ProcessorConns+1, after.ProcessorConns)
		require.False(t, e.streamExists(id))
		require.Zero(t, after.Open, "the processor's connection is closed once it is idle")
	})
	t.Run("results link half-open", func(t *testing.T) {
		e := newEnv(t, nil, func(c *Config) { c.ResultsNATSURL = blackhole(t) })
		id, _ := e.startedJob(3, 3)
		code, _ := e.do("POST", protocol.APIBase+protocol.CancelPath(id), testToken, nil, 5*time.Second)
		require.Equal(t, 503, code)
		require.Equal(t, []string{protocol.StatusStarted, protocol.StatusCanceling}, e.sink.jobStatuses(id))
		require.True(t, e.streamExists(id))
		code, tasks := e.tasks(id, 3, time.Second)
		require.Equal(t, 200, code)
		require.Empty(t, tasks, "a CANCELING job serves no task")
	})
}

// TestConnectionPerRequest: each NATS-touching request opens one connection
// and closes it, also when the request is interrupted; the reconnect variant
// leaves an interrupted request's connection open, and it reconnects by
// itself when NATS comes back.
func TestConnectionPerRequest(t *testing.T) {
	eachVariant(t, map[string]int{protocol.VariantGood: 0, protocol.VariantReconnect: 1}, func(t *testing.T, variant string, leaked int) {
		e := newEnv(t, nil, withVariant(variant))
		id := e.createJob(3, true)
		base := serverConns(t, e.nats)
		// A complete request: one connection, closed.
		code, _ := e.tasks(id, 1, 5*time.Second) // nothing published: waits FetchWait
		require.Equal(t, 200, code)
		require.Equal(t, uint64(2), e.api.Stats().RequestConns) // create + tasks
		e.waitConns(t, base.Connections, 2*time.Second)
		require.Equal(t, base.TotalConnections+1, serverConns(t, e.nats).TotalConnections)
		// An interrupted request: the client gives up during the fetch.
		code, _ = e.tasks(id, 1, 100*time.Millisecond)
		require.Zero(t, code)
		e.waitIdle(t)
		e.waitConns(t, base.Connections+leaked, 2*time.Second)
		require.Equal(t, leaked, e.api.Stats().Open)
		// NATS restarts: a leaked connection reconnects by itself, as the
		// test's own (default options) does.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, e.nats.Restart(ctx))
		e.waitConns(t, 1+leaked, 3*badReconnectWait)
	})
}

// TestProcessesServeOneRequestEach: with sync processes (Threads 1) a
// /tasks call holding the only process (a half-open NATS: it waits for
// the connect timeout) makes the liveness probe wait for it; a second
// process answers the probe at once.
func TestProcessesServeOneRequestEach(t *testing.T) {
	for procs, waits := range map[int]bool{1: true, 2: false} {
		t.Run(fmt.Sprintf("processes=%d", procs), func(t *testing.T) {
			e := newEnv(t, nil, withNATSURL(blackhole(t)), func(c *Config) { c.Processes, c.Threads = procs, 1 })
			e.dialingTasksCall(t)
			start := time.Now()
			code, _ := e.do("GET", "/api/v2/", "", nil, 2*time.Second)
			took := time.Since(start)
			require.Equal(t, 200, code)
			if waits {
				require.Greater(t, took, 200*time.Millisecond, "the probe did not wait for the busy process")
			} else {
				require.Less(t, took, 200*time.Millisecond, "the probe waited although a process was free")
			}
		})
	}
}

// TestDispatchMode: a job created with a dispatch mode other than
// async_api has no stream, and /tasks on it answers 400 without touching
// NATS; an unknown mode is refused at creation.
func TestDispatchMode(t *testing.T) {
	e := newEnv(t, nil)
	for _, mode := range []string{protocol.DispatchSyncAPI, protocol.DispatchInternal} {
		t.Run(mode, func(t *testing.T) {
			dials := e.api.Stats().Dials
			code, body := e.do("POST", "/api/v2/jobs/", testToken, map[string]any{
				"name": "t", "dispatch_mode": mode, "start_now": true, "total": 3,
			}, 5*time.Second)
			require.Equal(t, http.StatusCreated, code, string(body))
			var r struct {
				ID int64 `json:"id"`
			}
			require.NoError(t, json.Unmarshal(body, &r))
			j, ok := e.api.Job(r.ID)
			require.True(t, ok)
			require.Equal(t, mode, j.Dispatch)
			require.False(t, e.streamExists(r.ID))
			code, _ = e.tasks(r.ID, 2, 5*time.Second)
			require.Equal(t, http.StatusBadRequest, code)
			require.Equal(t, dials, e.api.Stats().Dials, "no NATS traffic for a job that is not async")
		})
	}
	code, _ := e.do("POST", "/api/v2/jobs/", testToken, map[string]any{"name": "t", "dispatch_mode": "carrier-pigeon", "total": 3}, 5*time.Second)
	require.Equal(t, http.StatusBadRequest, code)
	id := e.createJob(1, true)
	j, _ := e.api.Job(id)
	require.Equal(t, protocol.DispatchAsyncAPI, j.Dispatch)
}
