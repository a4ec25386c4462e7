package api

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/internal/poll/polltest"
	"github.com/natschaos/natschaos/protocol"
)

// TestCleanupRetried: a cancel whose cleanup fails while the results link
// is down answers 503 and leaves the job CANCELING; once the link is back
// the processor's background retry deletes the stream and the job becomes
// REVOKED, without another cancel.
func TestCleanupRetried(t *testing.T) {
	down := refused(t)
	e := newEnv(t, nil, func(c *Config) { c.ResultsNATSURL = down })
	id, _ := e.startedJob(3, 3)
	code, _ := e.do("POST", protocol.APIBase+protocol.CancelPath(id), testToken, nil, 5*time.Second)
	require.Equal(t, 503, code)
	require.True(t, e.streamExists(id))
	forwardOn(t, down, e.nats.ClientURL(), 0) // the results link comes back
	polltest.CheckFor(t, 2*cleanupRetryFirst+3*time.Second, 20*time.Millisecond, func() error {
		if e.streamExists(id) {
			return fmt.Errorf("stream %s still exists", protocol.StreamName(id))
		}
		if j, _ := e.api.Job(id); j.Status != protocol.StatusRevoked {
			return fmt.Errorf("job %s", j.Status)
		}
		return nil
	})
	require.Equal(t, []string{protocol.StatusStarted, protocol.StatusCanceling, protocol.StatusRevoked}, e.sink.jobStatuses(id))
	polltest.CheckFor(t, 2*time.Second, 20*time.Millisecond, func() error {
		if n := e.api.Stats().Open; n != 0 {
			return fmt.Errorf("%d connections open", n)
		}
		return nil
	})
}

// TestRestartedKeepsThePendingCleanup: what outlives a restart of the API's
// process — the jobs, and the cleanups still to retry — is the new API's:
// a cancel whose cleanup failed before the restart completes after it.
func TestRestartedKeepsThePendingCleanup(t *testing.T) {
	down := refused(t)
	e := newEnv(t, nil, func(c *Config) { c.ResultsNATSURL = down })
	id := e.createJob(3, true)
	e.publish(id, 3)
	code, _ := e.do("POST", protocol.APIBase+protocol.CancelPath(id), testToken, nil, 5*time.Second)
	require.Equal(t, 503, code)
	e.api.Close()
	n, err := e.api.Restarted()
	require.NoError(t, err)
	t.Cleanup(n.Close)
	j, ok := n.Job(id)
	require.True(t, ok, "the job outlives the restart")
	require.Equal(t, protocol.StatusCanceling, j.Status)
	forwardOn(t, down, e.nats.ClientURL(), 0) // the results link comes back
	polltest.CheckFor(t, 2*cleanupRetryFirst+3*time.Second, 20*time.Millisecond, func() error {
		if e.streamExists(id) {
			return fmt.Errorf("stream %s still exists", protocol.StreamName(id))
		}
		if j, _ := n.Job(id); j.Status != protocol.StatusRevoked {
			return fmt.Errorf("job %s", j.Status)
		}
		return nil
	})
}

// TestForget: an ended job is forgotten, results and all; a running one is not.
func TestForget(t *testing.T) {
	e := newEnv(t, nil)
	id := e.createJob(3, true)
	require.False(t, e.api.Forget(id), "a running job is kept")
	_, err := e.api.CancelJob(context.Background(), id)
	require.NoError(t, err)
	st, ok := e.api.JobStatus(id)
	require.True(t, ok)
	require.Equal(t, protocol.StatusRevoked, st)
	require.True(t, e.api.Forget(id))
	_, ok = e.api.JobStatus(id)
	require.False(t, ok)
	require.False(t, e.api.Forget(id))
}

// TestPullEndsWhenItsStreamIsDeleted: a /tasks pull in flight when this
// API deletes its job's stream ends then, not at nats-server's word for
// it, which now and then never comes (TestFactStreamDeleteLosesPullEnd):
// the signal alone ends a pull that NATS holds open for a long fetch wait,
// and a cancel's cleanup gives it.
func TestPullEndsWhenItsStreamIsDeleted(t *testing.T) {
	const wait = 10 * time.Second
	e := newEnv(t, nil, func(c *Config) { c.FetchWait = wait })
	id, _ := e.startedJob(3, 0) // nothing to hand out: the pull waits
	watching := func() error {
		e.api.ends.mu.Lock()
		defer e.api.ends.mu.Unlock()
		if e.api.ends.m[id] == nil {
			return fmt.Errorf("no pull of job %d watches its stream", id)
		}
		return nil
	}
	type answer struct {
		code int
		took time.Duration
	}
	done := make(chan answer, 1)
	go func() {
		start := time.Now()
		code, _ := e.tasks(id, 8, 2*wait)
		done <- answer{code, time.Since(start)}
	}()
	polltest.CheckFor(t, 5*time.Second, 5*time.Millisecond, watching)
	e.api.ends.deleted(id) // as if the stream went and NATS said nothing
	a := <-done
	require.Equal(t, 200, a.code)
	require.Less(t, a.took, wait/2, "the pull ended at the signal, not at its fetch wait")

	gone, release := e.api.ends.watch(id)
	defer release()
	code, _ := e.do("POST", protocol.APIBase+protocol.CancelPath(id), testToken, nil, 5*time.Second)
	require.Equal(t, 200, code)
	select {
	case <-gone:
	default:
		t.Fatal("the cancel's cleanup deleted the stream without telling the pulls")
	}
	e.api.ends.mu.Lock()
	defer e.api.ends.mu.Unlock()
	require.Empty(t, e.api.ends.m, "nothing kept for a job whose pulls are over")
}
