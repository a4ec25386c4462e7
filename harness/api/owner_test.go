package api

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/harness/natsd/natsdtest"
	"github.com/natschaos/natschaos/protocol"
)

// TestTwoAPIsOnOneNATS: job ids restart at 1 in every API process. A
// second API on the same NATS skips the ids whose stream exists (the
// first API's, and a stream nobody of ours made), and neither its
// cancel nor its finished job deletes a stream it did not create.
func TestTwoAPIsOnOneNATS(t *testing.T) {
	ns := natsdtest.StartNATS(t)
	first := newEnv(t, ns)
	second := newEnv(t, ns)

	// Someone else's stream named like a job's, with a message in it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := first.js.CreateStream(ctx, jetstream.StreamConfig{Name: protocol.StreamName(2), Subjects: []string{protocol.TaskSubject(2)}})
	require.NoError(t, err)
	_, err = first.js.Publish(ctx, protocol.TaskSubject(2), []byte(`{"id":"theirs"}`))
	require.NoError(t, err)

	a := first.createJob(3, true)
	require.EqualValues(t, 1, a)
	first.publish(a, 3)

	b := second.createJob(1, true)
	require.EqualValues(t, 3, b, "job ids 1 (the first API's) and 2 (someone else's stream) are skipped")
	second.publish(b, 1)

	// The second API cancels its job, and works another one to the end.
	code, body := second.do("POST", protocol.APIBase+protocol.CancelPath(b), testToken, map[string]any{}, 5*time.Second)
	require.Equal(t, http.StatusOK, code, string(body))
	require.False(t, second.streamExists(b), "the second API deletes its own cancelled job's stream")
	c := second.createJob(1, true)
	require.EqualValues(t, 4, c)
	second.publish(c, 1)
	code, tasks := second.tasks(c, 1, 5*time.Second)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, tasks, 1)
	second.postResults(c, tasks...)
	require.Eventually(t, func() bool { return !second.streamExists(c) }, 10*time.Second, 20*time.Millisecond,
		"the second API deletes its own finished job's stream")
	// Cancelling ids it never created: unknown to it, nothing deleted.
	for _, id := range []int64{a, 2} {
		code, _ := second.do("POST", protocol.APIBase+protocol.CancelPath(id), testToken, map[string]any{}, 5*time.Second)
		require.Equal(t, http.StatusNotFound, code, "cancel of job %d on the API that did not create it", id)
	}

	for _, id := range []int64{a, 2} {
		require.True(t, first.streamExists(id), "stream %s deleted by an API that did not create it", protocol.StreamName(id))
		s, err := first.js.Stream(ctx, protocol.StreamName(id))
		require.NoError(t, err)
		info, err := s.Info(ctx)
		require.NoError(t, err)
		t.Logf("%s still holds %d messages", protocol.StreamName(id), info.State.Msgs)
		require.NotZero(t, info.State.Msgs)
	}
}
