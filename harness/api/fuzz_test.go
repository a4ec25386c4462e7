package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/natschaos/natschaos/harness/natsd/natsdtest"
	"github.com/natschaos/natschaos/protocol"
	"github.com/natschaos/natschaos/protocol/apicall"
)

// fuzzAPI is an API in front of an embedded NATS with one started job of
// many tasks (none published: a /tasks pull waits FetchWait and returns
// none), closed when the fuzz target ends. Requests go straight to its
// Handler: a panic reaches the fuzzer instead of net/http's recovery.
func fuzzAPI(f *testing.F) (*API, int64) {
	f.Helper()
	ns := natsdtest.StartNATS(f)
	cfg := testConfig(ns.ClientURL())
	cfg.FetchWait = 5 * time.Millisecond
	a, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(a.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	j, err := a.CreateJob(ctx, JobSpec{Name: "fuzz", Total: 1_000_000, StartNow: true})
	if err != nil {
		f.Fatal(err)
	}
	return a, j.ID
}

// fuzzCall POSTs body to the endpoint of job (which selects the real job,
// an unknown one or a malformed id) and checks the answer: a JSON body and
// a status the endpoint documents, never a 500 or another 5xx than 503.
func fuzzCall(t *testing.T, a *API, endpoint string, job int64, which uint8, token bool, body []byte) {
	id := strconv.FormatInt(job, 10)
	switch which % 3 {
	case 1:
		id = "424242"
	case 2:
		id = "not-a-number"
	}
	req := httptest.NewRequest(http.MethodPost, "/api/v2/jobs/"+id+"/"+endpoint+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token {
		req.Header.Set(protocol.AuthHeader, apicall.Auth(testToken))
	}
	w := httptest.NewRecorder()
	a.Handler().ServeHTTP(w, req)
	switch w.Code {
	case http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusServiceUnavailable:
	default:
		t.Fatalf("POST %s with %q: status %d: %s", req.URL.Path, body, w.Code, w.Body.Bytes())
	}
	if !json.Valid(w.Body.Bytes()) {
		t.Fatalf("POST %s with %q: status %d, body not JSON: %q", req.URL.Path, body, w.Code, w.Body.Bytes())
	}
	if w.Code == http.StatusOK && (which%3 != 0 || !token) {
		t.Fatalf("POST %s with %q: 200 for an unknown job or without the token", req.URL.Path, body)
	}
}

// FuzzTasksBody: POST /jobs/{id}/tasks/ with any body never panics and
// answers 200, 400, 401, 404 or 503 with a JSON body.
func FuzzTasksBody(f *testing.F) {
	for _, s := range []string{
		`{"batch_size": 8}`, `{"batch_size": 0}`, `{"batch_size": 10001}`, `{"batch_size": -1}`,
		`{"batch_size": 1e400}`, `{"batch_size": "8"}`, `{"batch_size": null}`, `{}`, `[]`, `null`, ``,
		`{"batch_size": 8} {}`, `{"batch_size": 8, "extra": [1, 2]}`, "\xff",
	} {
		f.Add([]byte(s), uint8(0), true)
	}
	f.Add([]byte(`{"batch_size": 8}`), uint8(1), true)
	f.Add([]byte(`{"batch_size": 8}`), uint8(2), false)
	a, job := fuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, which uint8, token bool) {
		fuzzCall(t, a, "tasks", job, which, token, body)
	})
}

// FuzzResultBody: POST /jobs/{id}/result/ with any body never panics and
// answers 200, 400, 401, 404 or 503 with a JSON body. Accepted results go
// to the processor, which stores them and acks their (fake) reply subjects.
func FuzzResultBody(f *testing.F) {
	const reply = `$JS.ACK.job_1.job-1-consumer.1.5.7.1700000000000000000.3`
	for _, s := range []string{
		`{"results": []}`,
		`{"results": [{"reply_subject": "` + reply + `", "result": {"pipeline": "p", "source_images": [{"id": "1-1", "url": "u"}], "detections": [], "total_time": 0.5}}]}`,
		`{"results": [{"reply_subject": "` + reply + `", "result": {"error": "boom", "image_id": 7}}]}`,
		`{"results": [{"reply_subject": "` + reply + `", "result": {"error": "boom"}}]}`,
		`{"results": [{"reply_subject": "_INBOX.x", "result": {"pipeline": "p", "source_images": [{"id": 1}]}}]}`,
		`{"results": [{"reply_subject": "` + reply + `", "result": {"pipeline": "p", "source_images": []}}]}`,
		`{"results": [{"reply_subject": "` + reply + `", "result": {"pipeline": "p", "source_images": [{"id": {}}], "detections": {}}}]}`,
		`{"results": [{"reply_subject": "` + reply + `", "result": {"pipeline": "p", "source_images": [{"id": "x"}], "total_time": "slow"}}]}`,
		`{"results": [1, "two", null, []]}`, `{"results": null}`, `{"results": {}}`, `{}`, `[]`, ``, "\x00",
	} {
		f.Add([]byte(s), uint8(0), true)
	}
	f.Add([]byte(`{"results": []}`), uint8(1), true)
	f.Add([]byte(`{"results": []}`), uint8(2), false)
	a, job := fuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, which uint8, token bool) {
		fuzzCall(t, a, "result", job, which, token, body)
	})
}
