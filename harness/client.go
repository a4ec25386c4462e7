package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/natschaos/natschaos/protocol"
	"github.com/natschaos/natschaos/protocol/apicall"
)

// APIClient is the harness's own client of an API that speaks docs/protocol.md:
// it creates the job of a run, reads back which results the API holds, and
// cancels jobs. It assumes nothing only our reference API does: 200 or 201
// on create, extra JSON fields, any header case.
type APIClient struct {
	BaseURL string       // e.g. http://127.0.0.1:8000/api/v2 (no trailing slash)
	Token   string       // sent as "Authorization: Token <key>" when not empty; never logged
	HTTP    *http.Client // nil = a client with a 10 s timeout
}

func (c *APIClient) client() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// request is one call of the API at path (under BaseURL).
func (c *APIClient) request(method, path string, body []byte, worker, auth string) apicall.Request {
	return apicall.Request{Method: method, URL: strings.TrimRight(c.BaseURL, "/") + path, Body: body, Worker: worker, Auth: auth}
}

// send makes r through hc and returns the status and the body (up to 64
// MiB). An error reading the body comes with the status.
func (c *APIClient) send(ctx context.Context, hc *http.Client, r apicall.Request) (int, []byte, error) {
	return apicall.Do(ctx, hc, r, 64<<20)
}

func (c *APIClient) do(ctx context.Context, method, path string, body, out any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return fmt.Errorf("%s %s: encode body: %w", method, path, err)
		}
	}
	status, data, err := c.send(ctx, c.client(), c.request(method, path, b, "harness", apicall.Auth(c.Token)))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if status/100 != 2 {
		return fmt.Errorf("%s %s: status %d: %s", method, path, status, truncate(data, 200))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode body: %w (body %s)", method, path, err, truncate(data, 200))
		}
	}
	return nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// CreateJobAttempts bounds how often CreateJob asks: creating the run's job
// is set-up, not the system under test, so a 503 from a machine still busy
// tearing down the previous scenario is asked again.
const CreateJobAttempts = 5

// CreateJob creates a started async_api job of total tasks and returns its id.
func (c *APIClient) CreateJob(ctx context.Context, name string, total int) (int64, error) {
	return c.CreateJobIn(ctx, name, "", total)
}

// CreateJobIn is CreateJob in the pipeline of slug pipeline ("": the
// API's default; the body then names none).
func (c *APIClient) CreateJobIn(ctx context.Context, name, pipeline string, total int) (int64, error) {
	var out struct {
		ID json.Number `json:"id"`
	}
	startNow := true
	body := protocol.CreateJobRequest{Name: name, DispatchMode: protocol.DispatchAsyncAPI, StartNow: &startNow, Total: &total, Pipeline: pipeline}
	var err error
	for attempt := 1; attempt <= CreateJobAttempts; attempt++ {
		if err = c.do(ctx, http.MethodPost, protocol.JobsPath, body, &out); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("create job: %w", ctx.Err())
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
	if err != nil {
		return 0, fmt.Errorf("create job (%d attempts): %w", CreateJobAttempts, err)
	}
	id, err := strconv.ParseInt(out.ID.String(), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("create job: the API answered no usable id (%q)", out.ID)
	}
	return id, nil
}

// Job reads a job's status and the ids of the results the API holds.
func (c *APIClient) Job(ctx context.Context, id int64) (protocol.Job, error) {
	var js protocol.Job
	if err := c.do(ctx, http.MethodGet, protocol.JobPath(id), nil, &js); err != nil {
		return js, fmt.Errorf("read job %d: %w", id, err)
	}
	return js, nil
}

// CancelJob cancels a job (CANCELING, then REVOKED).
func (c *APIClient) CancelJob(ctx context.Context, id int64) error {
	if err := c.do(ctx, http.MethodPost, protocol.CancelPath(id), map[string]any{}, nil); err != nil {
		return fmt.Errorf("cancel job %d: %w", id, err)
	}
	return nil
}
