package observe

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/syncio"
	"github.com/natschaos/natschaos/protocol"
	"github.com/natschaos/natschaos/protocol/ackreply"
)

// Values of the err field of the http events a [Proxy] records for requests
// its faults cut short.
const (
	ErrDropped = "dropped" // http_drop_response: the API answered, the worker got nothing
	ErrAborted = "aborted" // http_abort: the worker got the headers and part of the body
)

// ProxyOption tweaks a [Proxy].
type ProxyOption func(*proxyConfig) error

type proxyConfig struct {
	record     bool
	maxBody    int64
	listen     string
	log        *slog.Logger
	scopeLater bool
}

// WithProxyScopeLater makes the proxy record no call on a job's URL
// (/jobs/{id}/...) until [Proxy.SetJob] names the run's job: such calls
// are forwarded, dropped from the history and counted as foreign.
func WithProxyScopeLater() ProxyOption {
	return func(c *proxyConfig) error { c.scopeLater = true; return nil }
}

// ObserverHTTPProxy is the name of the recording proxy in its foreign event.
const ObserverHTTPProxy = "http-proxy"

// WithProxyRecordTasks makes the proxy record what external workers cannot: a
// handout event per task of every /tasks response a worker received in
// full, a result event per item of every /result post (with the status the
// worker got, 0 for none), and an http event per call as the proxy saw it
// (err "dropped" or "aborted" when a fault cut the answer, "canceled" when the
// worker left first; id is the FaultID of the fault that acted on it). Leave it off when the built-in workers record themselves,
// or every call is counted twice.
func WithProxyRecordTasks() ProxyOption {
	return func(c *proxyConfig) error { c.record = true; return nil }
}

// WithProxyMaxBody bounds, in bytes, the bodies the proxy captures to record
// from (default [MaxBody]). A longer body is still forwarded whole, in a
// stream; only its tasks go unrecorded.
func WithProxyMaxBody(n int64) ProxyOption {
	return func(c *proxyConfig) error { return setPositive("proxy max body", n, &c.maxBody) }
}

// WithProxyListen sets the address the proxy listens on (default "127.0.0.1:0").
func WithProxyListen(addr string) ProxyOption {
	return func(c *proxyConfig) error { c.listen = addr; return nil }
}

// WithProxyLogger sets where the proxy logs. The default discards.
func WithProxyLogger(l *slog.Logger) ProxyOption {
	return func(c *proxyConfig) error { return setLogger(l, &c.log) }
}

// Proxy is the harness's HTTP reverse proxy on the worker-api link. It
// forwards every request to the API (keep-alive, bodies streamed, headers
// preserved, the upstream's Host), applies the HTTP fault that its
// [faults.HTTPRules] decide for each request, and with [WithProxyRecordTasks]
// records handouts, results and calls. When the API cannot be reached the
// worker's connection is closed without a response, as a direct connection
// would fail, rather than answered with a 502. Whoever starts it must Close it.
type Proxy struct {
	upstream *url.URL
	rules    *faults.HTTPRules
	sink     history.Sink
	cfg      proxyConfig
	ln       net.Listener
	srv      *http.Server
	tr       *http.Transport
	served   chan struct{}

	requests atomic.Int64 // requests received, for Requests
	job      atomic.Int64 // the run's job; 0 = none named yet
	foreign  atomic.Int64 // calls on other jobs' URLs, not recorded

	mu       sync.Mutex
	closed   bool
	inFlight sync.WaitGroup
	tasks    map[taskKey]string // (stream, sseq) → task, learnt from /tasks responses
	asked    map[string]string  // worker → the pipeline__slug__in of its last GET /jobs/
}

// maxAsked bounds the workers whose asked pipelines a Proxy keeps.
const maxAsked = 10_000

// noteAsked keeps, with WithProxyRecordTasks, the pipelines a worker's job
// list asked for (pipeline__slug__in), so that its /tasks calls record
// them; a list without the parameter asked for every pipeline.
func (p *Proxy) noteAsked(r *http.Request, worker string) {
	if !p.cfg.record || r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/jobs/") {
		return
	}
	var slugs []string
	for _, s := range strings.Split(r.URL.Query().Get("pipeline__slug__in"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			slugs = append(slugs, s)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(slugs) == 0 {
		delete(p.asked, worker)
		return
	}
	if p.asked == nil {
		p.asked = map[string]string{}
	}
	if _, ok := p.asked[worker]; ok || len(p.asked) < maxAsked {
		p.asked[worker] = strings.Join(slugs, ",")
	}
}

// askedBy is the pipelines worker's last job list asked for ("" = every
// pipeline, or not known).
func (p *Proxy) askedBy(worker string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.asked[worker]
}

type taskKey struct {
	stream string
	sseq   uint64
}

// NewProxy starts a proxy forwarding to upstream (the API's base URL, for
// example "http://127.0.0.1:8000"), listening on 127.0.0.1 at a random port.
// rules may be nil: no faults.
func NewProxy(upstream string, rules *faults.HTTPRules, sink history.Sink, opts ...ProxyOption) (*Proxy, error) {
	cfg := proxyConfig{maxBody: MaxBody, listen: "127.0.0.1:0", log: discardLogger}
	for _, opt := range opts {
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	u, err := url.Parse(upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("observe: bad upstream url: want http://host:port") // the url may hold a credential
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return nil, fmt.Errorf("observe: proxy listen: %w", err)
	}
	p := &Proxy{
		upstream: u,
		rules:    rules,
		sink:     sink,
		cfg:      cfg,
		ln:       ln,
		tr: &http.Transport{
			Proxy:               nil, // never through an environment proxy
			DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true, // forward Accept-Encoding as the worker sent it
		},
		served: make(chan struct{}),
		tasks:  map[taskKey]string{},
	}
	p.srv = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.log.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(p.served)
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.log.Error("proxy stopped serving", "err", err)
		}
	}()
	return p, nil
}

// URL is the proxy's base URL, to give to the workers instead of the API's.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Requests is how many requests the proxy received so far (external mode
// waits for the first one to know that workers point at it).
func (p *Proxy) Requests() int64 { return p.requests.Load() }

// Addr is the host:port the proxy listens on.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// TaskOf names the task of a delivery's reply subject, when a /tasks
// response seen with [WithProxyRecordTasks] carried that message; else "". It
// suits [WithNATSTaskLookup].
func (p *Proxy) TaskOf(reply string) string {
	m, err := ackreply.Parse(reply)
	if err != nil {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tasks[taskKey{m.Stream, m.SSeq}]
}

// SetJob names the run's job: from now on calls on another job's URL
// (/jobs/{id}/...) are forwarded but not recorded, and counted as foreign.
func (p *Proxy) SetJob(id int64) { p.job.Store(id) }

// Foreign is how many calls on other jobs' URLs the proxy did not record.
func (p *Proxy) Foreign() int { return int(p.foreign.Load()) }

// ours says whether a call on path is to be recorded: any call that names
// no job, and the calls on the run's job; it counts the others.
func (p *Proxy) ours(path string) bool {
	id, ok := jobOfPath(path)
	if !ok {
		return true
	}
	job := p.job.Load()
	if id == job || (job == 0 && !p.cfg.scopeLater) {
		return true
	}
	p.foreign.Add(1)
	return false
}

// jobOfPath is the job id of a /jobs/{id}/... path.
func jobOfPath(path string) (int64, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "jobs" {
			id, err := strconv.ParseInt(parts[i+1], 10, 64)
			return id, err == nil
		}
	}
	return 0, false
}

// Close stops the proxy: it closes the listener and every connection, and
// waits for the requests in flight to end; it then emits one foreign event
// (name ObserverHTTPProxy) when it left calls on other jobs unrecorded. Safe
// to call more than once.
func (p *Proxy) Close() error {
	if !syncio.Closing(&p.mu, &p.closed) {
		return nil
	}
	err := p.srv.Close()
	<-p.served
	p.inFlight.Wait()
	p.tr.CloseIdleConnections()
	if n := p.Foreign(); n > 0 {
		p.sink.Emit(history.Event{Kind: history.KindForeign, Name: ObserverHTTPProxy, N: n})
	}
	if err != nil {
		return fmt.Errorf("observe: close proxy: %w", err)
	}
	return nil
}

// call is what the proxy learns about one request, for the history.
type call struct {
	record  bool
	kind    string // "tasks", "result" or "" (another call)
	start   time.Time
	ev      history.Event
	reqBody []byte // the request body, when recorded
	status  int    // the status the worker got; 0 = none
}

// ServeHTTP implements http.Handler: it forwards r to the API, applying the
// action the rules decide, and records the call (see [WithProxyRecordTasks]).
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		closeWithoutResponse(w)
		return
	}
	p.inFlight.Add(1)
	p.mu.Unlock()
	defer p.inFlight.Done()

	c := &call{record: p.cfg.record && p.ours(r.URL.Path), start: time.Now(),
		ev: history.Event{Kind: history.KindHTTP, Path: r.URL.Path, Worker: workerOf(r)}}
	p.noteAsked(r, c.ev.Worker)
	if c.record && r.Method == http.MethodPost {
		switch {
		case protocol.IsTasksPath(r.URL.Path):
			c.kind = "tasks"
		case protocol.IsResultPath(r.URL.Path):
			c.kind = "result"
		}
	}
	if c.kind != "" && r.Body != nil && r.Body != http.NoBody {
		// Read what we record from before forwarding it: a small JSON body
		// (a longer one is forwarded in a stream and not recorded).
		buf, err := io.ReadAll(io.LimitReader(r.Body, p.cfg.maxBody+1))
		if err != nil {
			c.ev.Err = history.ErrWord(err)
			p.record(c)
			closeWithoutResponse(w)
			return
		}
		if int64(len(buf)) <= p.cfg.maxBody {
			c.reqBody = buf
			r.Body = io.NopCloser(bytes.NewReader(buf))
		} else {
			r.Body = readCloser{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
		}
	}
	var act faults.HTTPAction
	if p.rules != nil {
		act = p.rules.Decide(r)
	}
	c.ev.ID = act.FaultID // the fault that acted on this call, if any
	defer p.record(c)

	if act.Status != 0 {
		c.status = act.Status
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(act.Status)
		_, _ = fmt.Fprintf(w, "{\"error\": %q}\n", "natschaos: injected http_status "+strconv.Itoa(act.Status))
		return
	}

	resp, err := p.tr.RoundTrip(p.outbound(r))
	if err != nil {
		c.ev.Err = history.ErrWord(err)
		if r.Context().Err() != nil {
			c.ev.Err = "canceled"
		}
		p.cfg.log.Debug("upstream call failed", "path", r.URL.Path, "err", err)
		closeWithoutResponse(w)
		return
	}
	defer resp.Body.Close()

	switch {
	case act.DropResponse:
		// The API has answered and committed; read it all (so that it
		// finishes) and learn its tasks, but give the worker nothing.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, p.cfg.maxBody))
		_, _ = io.Copy(io.Discard, resp.Body)
		if c.kind == "tasks" && resp.StatusCode == http.StatusOK {
			p.learn(body)
		}
		c.ev.Err = ErrDropped
		closeWithoutResponse(w)
	case act.Abort:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, p.cfg.maxBody))
		if c.kind == "tasks" && resp.StatusCode == http.StatusOK {
			p.learn(body)
		}
		copyHeader(w.Header(), resp.Header)
		declared := len(body)
		if declared == 0 {
			declared = 1 // promise a byte, so that the cut shows
		}
		w.Header().Set("Content-Length", strconv.Itoa(declared))
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body[:len(body)/2])
		_ = http.NewResponseController(w).Flush()
		c.ev.Status = resp.StatusCode // headers went out; c.status stays 0: no usable response
		c.ev.Err = ErrAborted
		closeWithoutResponse(w)
	default:
		if act.Delay > 0 {
			t := time.NewTimer(act.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				c.ev.Err = "canceled"
				return
			}
		}
		copyHeader(w.Header(), resp.Header)
		w.WriteHeader(resp.StatusCode)
		var got *capture
		body := io.Reader(resp.Body)
		if c.kind == "tasks" && resp.StatusCode == http.StatusOK {
			got = &capture{r: resp.Body, max: p.cfg.maxBody}
			body = got
		}
		_, err := io.Copy(w, body)
		if err == nil {
			err = http.NewResponseController(w).Flush()
		}
		if err != nil {
			c.ev.Err = history.ErrWord(err)
			if r.Context().Err() != nil {
				c.ev.Err = "canceled"
			}
			c.ev.Status = resp.StatusCode
			return
		}
		c.status = resp.StatusCode
		if got != nil && !got.over {
			p.handout(c, got.buf.Bytes())
		}
	}
}
