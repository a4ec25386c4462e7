package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
	"github.com/natschaos/natschaos/protocol/apicall"
)

// maxBody bounds how much of a response the worker reads (a /tasks answer of
// a big batch is far below it).
const maxBody = 16 << 20

// call is one HTTP call as the worker saw it.
type call struct {
	status int    // HTTP status; 0 = no response
	err    error  // nil when a complete response was read
	errTag string // the history's err word; "" when err is nil
	body   []byte
	ms     float64
	path   string
}

// ok reports whether the call got a complete 2xx response.
func (c call) ok() bool { return c.err == nil && c.status >= 200 && c.status < 300 }

// client speaks the docs/protocol.md HTTP API for one run of one worker.
type client struct {
	cfg       Config
	hc        *http.Client
	transport *http.Transport
}

func newClient(cfg Config) *client {
	tr := &http.Transport{
		Proxy:                 nil, // the harness chooses the path through its own proxies
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          cfg.Fetchers + cfg.Posters + 4,
		MaxIdleConnsPerHost:   cfg.Fetchers + cfg.Posters + 4,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &client{cfg: cfg, hc: &http.Client{Transport: tr}, transport: tr}
}

// close drops the idle connections; in-flight calls have ended by then.
func (c *client) close() { c.transport.CloseIdleConnections() }

// do makes one call bounded by timeout and returns what the worker saw. It
// never returns a Go error: failures are in the call, classified.
func (c *client) do(ctx context.Context, method, rawURL string, in any, timeout time.Duration) (res call) {
	u, err := url.Parse(rawURL)
	if err != nil {
		res.path = rawURL
		res.err = fmt.Errorf("build %s %s: %w", method, rawURL, err)
		res.errTag = "request"
		return res
	}
	res.path = u.Path
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			res.err = fmt.Errorf("encode %s body: %w", res.path, err)
			res.errTag = "encode"
			return res
		}
		body = b
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	defer func() { res.ms = float64(time.Since(start).Microseconds()) / 1000 }()

	res.status, res.body, err = apicall.Do(rctx, c.hc, apicall.Request{
		Method: method, URL: rawURL, Body: body, Worker: c.cfg.ID, Auth: apicall.Auth(c.cfg.Token),
	}, maxBody)
	if err != nil {
		res.err = fmt.Errorf("%s %s: %w", method, res.path, err)
		res.errTag = classify(ctx, rctx, err)
	}
	return res
}

// classify names a failed call the way the history's http events do:
// "timeout", "reset", "refused", "eof", "crashed" (the worker crashed
// mid-call), "canceled" (the worker was stopped mid-call), or "error".
// parent is the worker's context, rctx the call's own (with its timeout).
func classify(parent, rctx context.Context, err error) string {
	if parent.Err() != nil {
		if errors.Is(context.Cause(parent), ErrCrashed) {
			return "crashed"
		}
		return "canceled"
	}
	if errors.Is(rctx.Err(), context.DeadlineExceeded) {
		return "timeout"
	}
	return history.ErrWord(err)
}

// resultRequest is a result body and the task of each of its items (for
// the result events).
type resultRequest struct {
	protocol.ResultRequest
	tasks []string // the image id of each item
}

func jobsURL(cfg Config) string {
	q := "ids_only=1&incomplete_only=1"
	if len(cfg.PipelineSlugs) > 0 {
		q += "&pipeline__slug__in=" + url.QueryEscape(strings.Join(cfg.PipelineSlugs, ","))
	}
	if cfg.JobsLimit > 0 {
		q += "&limit=" + strconv.Itoa(cfg.JobsLimit)
	}
	return cfg.BaseURL + protocol.JobsPath + "?" + q
}

func tasksURL(cfg Config, id int64) string {
	return cfg.BaseURL + protocol.TasksPath(id)
}

func resultURL(cfg Config, id int64) string {
	return cfg.BaseURL + protocol.ResultPath(id)
}

func jsonDecode(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}
