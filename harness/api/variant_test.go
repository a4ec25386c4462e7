package api

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/harness/natsd/natsdtest"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/poll/polltest"
	"github.com/natschaos/natschaos/protocol"
)

// Each known-bad variant is shown here (or in the api_test.go table named
// after it) to differ from the good one in its one behaviour:
//
//	reserve-one-by-one  TestOnePullPerBatch, TestVariantReserveOneByOneSlowUnderLatency
//	reconnect           TestConnectionPerRequest
//	no-connect-timeout  TestNATSUnreachable, TestVariantNoConnectTimeoutStarvesLiveness
//	swallow-timeout     TestNATSUnreachable
//	no-terminal-guard   TestVariantNoTerminalGuard
//	ack-before-save     TestProcessorCrash
//	recreate-stream     TestMissingStream
//	slow-ack            TestVariantSlowAck
//	leak-connections    TestVariantLeakConnections
//	slow-leak           TestVariantSlowLeak
//	empty-on-error      TestNATSUnreachable
//	connect-retry-on-refused  TestNATSUnreachable
//	pooled (good)       TestVariantPooled, TestNATSUnreachable
//	pooled-stale, late-fetch, ack-connection-setup, consumer-first-cleanup:
//	                    their matrix cells (chaos/verify.go); each needs a
//	                    NATS restart, a slow link or a race the scenario sets up
//	early-success       TestVariantEarlySuccess
//	no-cleanup          TestVariantNoCleanup
//	wrong-pipeline      TestVariantWrongPipeline

func TestVariantReserveOneByOneSlowUnderLatency(t *testing.T) {
	const (
		oneWay = 5 * time.Millisecond
		batch  = 10
	)
	took := map[string]time.Duration{}
	for _, v := range []string{protocol.VariantGood, protocol.VariantReserveOneByOne} {
		t.Run(v, func(t *testing.T) {
			ns := natsdtest.StartNATS(t)
			slow := latencyProxy(t, ns.ClientURL(), oneWay)
			e := newEnv(t, ns, withVariant(v), withNATSURL(slow))
			id, _ := e.startedJob(batch, batch)
			start := time.Now()
			code, tasks := e.tasks(id, batch, 10*time.Second)
			took[v] = time.Since(start)
			require.Equal(t, 200, code)
			require.Len(t, tasks, batch)
		})
	}
	// Four JetStream round trips per task at least, against a handful.
	rtt := 2 * oneWay
	require.Greater(t, took[protocol.VariantReserveOneByOne], 4*batch*rtt, "one-by-one took %s", took[protocol.VariantReserveOneByOne])
	require.Less(t, took[protocol.VariantGood], 4*batch*rtt, "good took %s", took[protocol.VariantGood])
	require.Greater(t, took[protocol.VariantReserveOneByOne], 3*took[protocol.VariantGood])
}

// TestVariantNoConnectTimeoutStarvesLiveness: with a pool of one request
// slot and a half-open NATS, a /tasks call of the no-connect-timeout variant
// holds the slot (far beyond the client's patience) and the liveness probe
// cannot get through; the good API frees it after ConnectTimeout.
func TestVariantNoConnectTimeoutStarvesLiveness(t *testing.T) {
	eachVariant(t, map[string]bool{protocol.VariantGood: true, protocol.VariantNoConnectTimeout: false}, func(t *testing.T, variant string, live bool) {
		bad := newEnv(t, nil, withVariant(variant), withNATSURL(blackhole(t)),
			func(c *Config) { c.MaxConcurrent = 1 })
		bad.dialingTasksCall(t)
		code, _ := bad.do("GET", "/api/v2/", "", nil, time.Second)
		if live {
			require.Equal(t, 200, code)
		} else {
			require.Zero(t, code, "the probe got through")
		}
	})
}

// TestVariantWrongPipeline: the good job list keeps only the pipelines asked
// for; wrong-pipeline lists every job.
func TestVariantWrongPipeline(t *testing.T) {
	tests := []struct {
		variant string
		want    string
	}{
		{protocol.VariantGood, `"results":[{"id":2,"pipeline_slug":"b"}]`},
		{protocol.VariantWrongPipeline, `"results":[{"id":1,"pipeline_slug":"a"},{"id":2,"pipeline_slug":"b"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			e := newEnv(t, nil, withVariant(tt.variant))
			e.createJobIn(1, true, "a")
			e.createJobIn(1, true, "b")
			code, body := e.do("GET", "/api/v2/jobs/?ids_only=1&incomplete_only=1&limit=10&pipeline__slug__in=b", testToken, nil, time.Second)
			require.Equal(t, 200, code)
			require.Contains(t, string(body), tt.want)
		})
	}
}

// TestVariantNoTerminalGuard: a job that was never started has tasks in its
// stream; the good API serves none of them without touching NATS, the
// variant serves them.
func TestVariantNoTerminalGuard(t *testing.T) {
	eachVariant(t, map[string]int{protocol.VariantGood: 0, protocol.VariantNoTerminalGuard: 2}, func(t *testing.T, variant string, served int) {
		e := newEnv(t, nil, withVariant(variant))
		id := e.createJob(2, false)
		e.publish(id, 2)
		before := e.api.Stats().RequestConns
		code, tasks := e.tasks(id, 5, 5*time.Second)
		require.Equal(t, 200, code)
		require.Len(t, tasks, served)
		if served == 0 {
			require.Equal(t, before, e.api.Stats().RequestConns)
		}
	})
}

// TestVariantSlowAck: the good processor acks at once; slow-ack holds the
// result past ack_wait, so NATS hands the task out again while it is held.
func TestVariantSlowAck(t *testing.T) {
	const ackWait = time.Second
	eachVariant(t, map[string]bool{protocol.VariantGood: false, protocol.VariantSlowAck: true}, func(t *testing.T, variant string, redelivered bool) {
		e := newEnv(t, nil, withVariant(variant), withAckWait(ackWait))
		id, imgs := e.startedJob(2, 1)
		code, tasks := e.tasks(id, 1, 5*time.Second)
		require.Equal(t, 200, code)
		require.Len(t, tasks, 1)
		w := watchAcks(t, e, id, map[string]string{*tasks[0].ReplySubject: imgs[0]})
		e.postResults(id, tasks[0])
		polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
			if e.sink.storedCount(imgs[0]) != 1 {
				return fmt.Errorf("not stored")
			}
			return nil
		})
		if !redelivered {
			polltest.CheckFor(t, ackWait/2, 5*time.Millisecond, func() error {
				if ok, _ := w.acked(*tasks[0].ReplySubject); !ok {
					return fmt.Errorf("not acked within half an ack_wait")
				}
				return nil
			})
			e.requireNoRedelivery(id, ackWait+300*time.Millisecond)
			return
		}
		again := e.redelivered(id, 2*ackWait)
		require.Equal(t, imgs[0], string(again.ImageID))
		require.Equal(t, 2, dc(t, again))
		ok, _ := w.acked(*tasks[0].ReplySubject)
		require.False(t, ok, "acked before the redelivery")
		// The late ack comes at 1.5 x ack_wait.
		polltest.CheckFor(t, ackWait, 10*time.Millisecond, func() error {
			if ok, _ := w.acked(*tasks[0].ReplySubject); !ok {
				return fmt.Errorf("never acked")
			}
			return nil
		})
	})
}

// TestCloseUnblocksAndCloses: Close returns while requests hang on a
// half-open NATS, and leaves no connection open (goleak checks goroutines).
func TestCloseUnblocksAndCloses(t *testing.T) {
	for _, v := range protocol.Variants() {
		t.Run(v.Name, func(t *testing.T) {
			a, err := New(Config{NATSURL: blackhole(t), Variant: v.Name, ConnectTimeout: 10 * time.Second})
			require.NoError(t, err)
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, _ = a.CreateJob(context.Background(), JobSpec{Total: 1, StartNow: true})
			}()
			polltest.CheckFor(t, 2*time.Second, 5*time.Millisecond, func() error {
				if a.Stats().Dials == 0 {
					return fmt.Errorf("not dialed")
				}
				return nil
			})
			start := time.Now()
			a.Close()
			<-done
			require.Less(t, time.Since(start), 2*time.Second)
			require.Zero(t, a.Stats().Open)
		})
	}
}

// TestVariantLeakConnections: a complete /tasks call of the leak-connections
// variant leaves its NATS connection open; the good variant's is closed.
func TestVariantLeakConnections(t *testing.T) {
	for v, leaked := range map[string]int{protocol.VariantGood: 0, protocol.VariantLeakConnections: 3} { // the job's creation, 2 /tasks
		t.Run(v, func(t *testing.T) {
			e := newEnv(t, nil, withVariant(v))
			base := serverConns(t, e.nats).Connections
			id := e.createJob(3, true)
			for range 2 {
				code, _ := e.tasks(id, 1, 5*time.Second) // nothing published: waits FetchWait
				require.Equal(t, 200, code)
			}
			polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
				if c := serverConns(t, e.nats).Connections; c != base+leaked {
					return fmt.Errorf("%d connections, want %d", c, base+leaked)
				}
				return nil
			})
		})
	}
}

// TestVariantPooled: the pooled variant serves successive /tasks calls on
// one connection (the per-request mode opens one each), a job's later
// calls cost one pull, and the pool's idle connection closes by itself.
func TestVariantPooled(t *testing.T) {
	for v, conns := range map[string]uint64{protocol.VariantGood: 4, protocol.VariantPooled: 1} { // 4 /tasks
		t.Run(v, func(t *testing.T) {
			e := newEnv(t, nil, withVariant(v))
			id, _ := e.startedJob(8, 8)
			before := e.api.Stats().RequestConns // the job's creation
			js0 := jsAPITotal(t, e.nats)
			for range 4 {
				code, got := e.tasks(id, 2, 5*time.Second)
				require.Equal(t, 200, code)
				require.Len(t, got, 2)
			}
			require.Equal(t, conns, e.api.Stats().RequestConns-before)
			if v == protocol.VariantPooled {
				// stream info, consumer info, consumer create once; pulls are not API calls
				require.LessOrEqual(t, jsAPITotal(t, e.nats)-js0, uint64(3))
			}
			polltest.CheckFor(t, 3*time.Second, 20*time.Millisecond, func() error {
				if n := e.api.Stats().Open; n != 0 {
					return fmt.Errorf("%d connections open", n)
				}
				return nil
			})
		})
	}
}

// TestVariantEarlySuccess: with one of its two results stored, the good
// API's job is STARTED with progress 1/2; the early-success variant's is
// SUCCESS already. Every job event carries the progress of its change.
func TestVariantEarlySuccess(t *testing.T) {
	eachVariant(t, map[string]string{protocol.VariantGood: protocol.StatusStarted, protocol.VariantEarlySuccess: protocol.StatusSuccess}, func(t *testing.T, variant string, want string) {
		e := newEnv(t, nil, withVariant(variant))
		id, _, tasks := e.reservedJob(2, 2)
		e.postResults(id, tasks[0])
		polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
			if n := e.sink.storedCount(string(tasks[0].ImageID)); n != 1 {
				return fmt.Errorf("%d stored events", n)
			}
			if j, _ := e.api.Job(id); j.Status != want || j.Progress.Stored != 1 {
				return fmt.Errorf("job %s %d/%d, want %s 1/2", j.Status, j.Progress.Stored, j.Progress.Total, want)
			}
			return nil
		})
		jobs := e.sink.Of(history.KindJob)
		last := jobs[len(jobs)-1]
		require.Equal(t, want, last.JobStatus)
		require.Equal(t, 2, last.ProgressTotal)
		wantStored := 0
		if want == protocol.StatusSuccess {
			wantStored = 1
		}
		require.Equal(t, wantStored, last.ProgressStored)
	})
}

// TestVariantSlowLeak: 300 /tasks calls of the slow-leak variant leave 3
// subscriptions on the server that the good variant does not (a job not
// started: the calls answer at once), and Close ends the leaked goroutines
// (goleak in TestMain checks).
func TestVariantSlowLeak(t *testing.T) {
	eachVariant(t, map[string]int{protocol.VariantGood: 0, protocol.VariantSlowLeak: 3}, func(t *testing.T, variant string, leaked int) {
		e := newEnv(t, nil, withVariant(variant))
		id := e.createJob(3, false)
		base := serverConns(t, e.nats).Subscriptions
		for range 3 * leakEvery {
			code, _ := e.tasks(id, 1, 5*time.Second)
			require.Equal(t, 200, code)
		}
		polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
			if s := serverConns(t, e.nats).Subscriptions; s < base+uint64(leaked) {
				return fmt.Errorf("%d subscriptions, want %d", s, base+uint64(leaked))
			}
			return nil
		})
		require.Equal(t, base+uint64(leaked), serverConns(t, e.nats).Subscriptions)
	})
}

// TestVariantNoCleanup: a finished job's stream is deleted by the good API
// and left by the no-cleanup variant.
func TestVariantNoCleanup(t *testing.T) {
	eachVariant(t, map[string]bool{protocol.VariantGood: false, protocol.VariantNoCleanup: true}, func(t *testing.T, variant string, kept bool) {
		e := newEnv(t, nil, withVariant(variant))
		id, _, tasks := e.reservedJob(1, 1)
		e.postResults(id, tasks[0])
		polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
			if j, _ := e.api.Job(id); j.Status != protocol.StatusSuccess {
				return fmt.Errorf("job %s", j.Status)
			}
			if e.streamExists(id) != kept {
				return fmt.Errorf("stream exists: %variant, want %variant", !kept, kept)
			}
			return nil
		})
	})
}

// TestPullEndsWhenTheStreamIsDeleted: a /tasks pull waiting on a job whose
// stream is deleted (its cleanup ran) ends at once with NATS's "409
// Consumer Deleted", and answers as for a missing stream: 200 with no task
// (it answered 503, which a worker reads as NATS trouble).
func TestPullEndsWhenTheStreamIsDeleted(t *testing.T) {
	for _, v := range []string{protocol.VariantGood, protocol.VariantPooled} {
		t.Run(v, func(t *testing.T) {
			const wait = 2 * time.Second
			e := newEnv(t, nil, withVariant(v), func(c *Config) { c.FetchWait = wait })
			id := e.createJob(1, true)
			type answer struct {
				code int
				n    int
				took time.Duration
			}
			done := make(chan answer, 1)
			start := time.Now()
			go func() {
				code, got := e.tasks(id, 4, 10*time.Second)
				done <- answer{code, len(got), time.Since(start)}
			}()
			// Delete the stream once the pull is waiting on the consumer.
			polltest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
				c, err := e.js.Consumer(context.Background(), protocol.StreamName(id), protocol.ConsumerName(id))
				if err != nil {
					return err
				}
				if info, err := c.Info(context.Background()); err != nil || info.NumWaiting == 0 {
					return fmt.Errorf("no pull waiting yet (%v)", err)
				}
				return nil
			})
			require.NoError(t, e.js.DeleteStream(context.Background(), protocol.StreamName(id)))
			select {
			case a := <-done:
				require.Equal(t, 200, a.code, "a job whose stream is gone answers 200 with no task")
				require.Zero(t, a.n)
				require.Less(t, a.took, wait, "the pull ended with its stream, not at its wait")
			case <-time.After(wait + pullGuard + time.Second):
				t.Fatal("/tasks did not return")
			}
		})
	}
}
