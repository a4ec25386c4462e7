package harness

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/history"
)

// The contract probes against the reference API: every answer is one the
// contract allows, no probe touches NATS (no connection on api-nats or
// results-nats, nothing reserved), nothing of theirs is stored, and the
// contract check passes over what they recorded.
func TestProbeContractReferenceAPI(t *testing.T) {
	s, sink := startStack(t, testConfig())
	ctx := testCtx(t, 20*time.Second)
	job, err := s.NewJob(ctx, 5)
	require.NoError(t, err)
	opened := func() int {
		return sink.count(history.KindConn, func(e history.Event) bool {
			return e.Phase == history.ConnOpen && (e.Link == faults.LinkAPINATS || e.Link == faults.LinkResultsNATS)
		})
	}
	before := opened()

	require.NoError(t, s.ProbeContract(ctx))

	probes, _ := sink.of(history.KindContract, nil)
	require.GreaterOrEqual(t, len(probes), 30)
	names := map[string]bool{}
	for _, e := range probes {
		require.False(t, names[e.Name], "probe %s twice", e.Name)
		names[e.Name] = true
		require.Contains(t, strings.Split(e.Want, ","), strconv.Itoa(e.Status), "probe %s (%s): got %d (%s), want %s", e.Name, e.Path, e.Status, e.Err, e.Want)
		require.Equal(t, ContractWorker, e.Worker)
		if e.Task != "" {
			require.True(t, strings.HasPrefix(e.Task, ContractTaskPrefix), e.Task)
		}
	}
	require.Equal(t, before, opened(), "a probe opened a NATS connection")
	j, err := s.Client.Job(ctx, job)
	require.NoError(t, err)
	require.Empty(t, j.StoredIDs, "a refused /result stored something")
	require.Zero(t, sink.count(history.KindReserve, nil), "a probe reserved a task")

	r := check.Check(check.NewContract(check.Params{}), sink.events)
	require.True(t, r.Passed(), r.String())
}

// A cancel's answer is judged as a contract event: the reference API's is
// 200 with the job and CANCELING or REVOKED; an answer for another job or
// with a status a cancelled job cannot have is a bad body.
func TestCancelRunRecordsTheAnswer(t *testing.T) {
	s, sink := startStack(t, testConfig())
	ctx := testCtx(t, 20*time.Second)
	job, err := s.NewJob(ctx, 5)
	require.NoError(t, err)
	require.NoError(t, CancelRun(ctx, s.Client, job, sink))
	got, _ := sink.of(history.KindContract, nil)
	require.Len(t, got, 1)
	require.Equal(t, "cancel-job", got[0].Name)
	require.Equal(t, 200, got[0].Status)
	require.Empty(t, got[0].Err)

	for body, ok := range map[string]bool{
		`{"id": 7, "status": "REVOKED"}`:     true,
		`{"id": "7", "status": "CANCELING"}`: true,
		`{"status": "SUCCESS"}`:              true, // ended before the cancel; no id: not judged
		`{}`:                                 true,
		`{"id": 0, "status": ""}`:            false,
		`{"id": 8, "status": "REVOKED"}`:     false,
		`{"id": 7, "status": "STARTED"}`:     false,
		`not json`:                           false,
	} {
		require.Equal(t, ok, cancelAnswerOK([]byte(body), 7), body)
	}
}

// A cancel answered 503 (its cleanup could not reach NATS) is the
// contract's answer, not an error; a cancel that runs past the client's
// timeout is recorded with no answer, which the contract check fails.
func TestCancelRunAnswers(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/jobs/7/") {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error": "Task queue temporarily unavailable"}`))
			return
		}
		<-release // hangs until the test is over
	}))
	defer srv.Close()
	defer close(release)
	c := &APIClient{BaseURL: srv.URL + "/api/v2", Token: "t", HTTP: &http.Client{Timeout: 200 * time.Millisecond}}
	ctx := testCtx(t, 10*time.Second)

	sink := &memSink{}
	require.NoError(t, CancelRun(ctx, c, 7, sink))
	require.Error(t, CancelRun(ctx, c, 8, sink))
	got, _ := sink.of(history.KindContract, nil)
	require.Len(t, got, 2)
	require.Equal(t, 503, got[0].Status)
	require.Equal(t, 0, got[1].Status)
	require.Equal(t, "timeout", got[1].Err)
	r := check.Check(check.NewContract(check.Params{}), got)
	require.False(t, *r.OK, r.Summary)
	require.Equal(t, 1, r.Violations, "the 503 is in the contract; the hung cancel is not")
}

// ProbeCreate against the reference API: a job created with the defaults,
// served nothing, read back CREATED and async_api, cancelled — each answer
// in the contract, every event naming the created job. Against an API that
// answers the create with no id, or reads the job back in another mode,
// the contract check fails.
func TestProbeCreate(t *testing.T) {
	s, sink := startStack(t, testConfig())
	ctx := testCtx(t, 20*time.Second)
	run, err := s.NewJob(ctx, 5)
	require.NoError(t, err)
	require.NoError(t, ProbeCreate(ctx, s.Client, sink))
	got, _ := sink.of(history.KindContract, nil)
	var names []string
	for _, e := range got {
		names = append(names, e.Name)
		require.Contains(t, strings.Split(e.Want, ","), strconv.Itoa(e.Status), "%s: got %d (%s)", e.Name, e.Status, e.Err)
		require.Empty(t, e.Err, e.Name)
		require.NotZero(t, e.Job)
		require.NotEqual(t, run, e.Job, "the probe's job is a new one")
		require.Equal(t, got[0].Job, e.Job)
	}
	require.Equal(t, []string{history.ContractCreateJob, "create-job-tasks", "create-job-read", "create-job-cancel"}, names)
	j, err := s.Client.Job(ctx, got[0].Job)
	require.NoError(t, err)
	require.Contains(t, []string{"CANCELING", "REVOKED"}, j.Status)

	for name, answer := range map[string]func(w http.ResponseWriter, r *http.Request){
		"create-job": func(w http.ResponseWriter, r *http.Request) { // 201 without an id
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"status": "CREATED"}`))
		},
		"create-job-read": func(w http.ResponseWriter, r *http.Request) { // created in another mode
			switch {
			case r.Method == http.MethodPost && r.URL.Path == "/api/v2/jobs/":
				w.WriteHeader(http.StatusCreated)
				_, _ = w.Write([]byte(`{"id": 3, "status": "CREATED"}`))
			case strings.HasSuffix(r.URL.Path, "/tasks/"):
				_, _ = w.Write([]byte(`{"tasks": []}`))
			case r.Method == http.MethodGet:
				_, _ = w.Write([]byte(`{"id": 3, "status": "CREATED", "dispatch_mode": "internal"}`))
			default:
				_, _ = w.Write([]byte(`{"id": 3, "status": "REVOKED"}`))
			}
		},
	} {
		srv := httptest.NewServer(http.HandlerFunc(answer))
		sink := &memSink{}
		require.NoError(t, ProbeCreate(ctx, &APIClient{BaseURL: srv.URL + "/api/v2", Token: "t"}, sink))
		srv.Close()
		r := check.Check(check.NewContract(check.Params{}), sink.events)
		require.True(t, r.Failed(), "%s: %s", name, r.String())
		require.Equal(t, 1, r.Violations, "%s: %s", name, r.String())
		require.Contains(t, r.Offending[0].Detail, name)
	}
}
