package observe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/natschaos/natschaos/history"
)

// Defaults of a [Prober] (docs/invariants.md, "liveness").
const (
	DefaultProbeInterval = 100 * time.Millisecond
	DefaultProbeTimeout  = time.Second
)

// ProberOption tweaks a [Prober].
type ProberOption func(*proberConfig) error

type proberConfig struct {
	interval    time.Duration
	timeout     time.Duration
	maxInFlight int
	log         *slog.Logger
}

// WithProberInterval sets the time between the starts of two probes (default
// [DefaultProbeInterval]).
func WithProberInterval(d time.Duration) ProberOption {
	return func(c *proberConfig) error { return setPositive("probe interval", d, &c.interval) }
}

// WithProberTimeout bounds each probe (default [DefaultProbeTimeout]); a probe
// that runs out is recorded with err "timeout".
func WithProberTimeout(d time.Duration) ProberOption {
	return func(c *proberConfig) error { return setPositive("probe timeout", d, &c.timeout) }
}

// WithProberMaxInFlight bounds how many probes may run at once (default: as many
// as fit in one timeout at the interval, plus one, so that slow probes never
// shift the schedule). A probe due while n are in flight is skipped and logged.
func WithProberMaxInFlight(n int) ProberOption {
	return func(c *proberConfig) error { return setPositive("probe max in flight", n, &c.maxInFlight) }
}

// WithProberLogger sets where the prober logs. The default discards.
func WithProberLogger(l *slog.Logger) ProberOption {
	return func(c *proberConfig) error { return setLogger(l, &c.log) }
}

// Prober GETs the API's NATS-free endpoint (docs/protocol.md: GET /api/v2/) on a
// fixed schedule and emits an http event per probe with worker
// [history.ProbeWorker], the path, the status (0 when none), the duration in
// ms, and err (timeout, refused, reset, ...) when the call failed. A slow
// probe does not delay the next: probes overlap, up to a bound. Whoever
// starts it must Close it.
type Prober struct {
	url    string
	path   string
	cfg    proberConfig
	client *http.Client
	sink   history.Sink

	run *every
}

// NewProber starts probing target (a full URL, for example
// "http://127.0.0.1:8000/api/v2/") at once and then every interval, until
// ctx ends or Close is called.
func NewProber(ctx context.Context, target string, sink history.Sink, opts ...ProberOption) (*Prober, error) {
	cfg := proberConfig{interval: DefaultProbeInterval, timeout: DefaultProbeTimeout, log: discardLogger}
	for _, opt := range opts {
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.maxInFlight == 0 {
		cfg.maxInFlight = int(cfg.timeout/cfg.interval) + 2
	}
	u, err := url.Parse(target)
	if err != nil || !isHTTPURL(target) {
		return nil, fmt.Errorf("observe: bad probe url %q", target)
	}
	p := &Prober{url: target, path: u.Path, cfg: cfg, client: directClient(cfg.maxInFlight), sink: sink}
	var wg sync.WaitGroup
	slots := make(chan struct{}, cfg.maxInFlight)
	p.run = startEvery(ctx, cfg.interval, func(ctx context.Context) {
		select {
		case slots <- struct{}{}:
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				p.probe(ctx)
			}()
		default:
			p.cfg.log.Warn("probe skipped: too many probes in flight", "max", p.cfg.maxInFlight)
		}
	}, func() {
		wg.Wait()
		p.client.CloseIdleConnections()
	})
	return p, nil
}

func (p *Prober) probe(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.timeout)
	defer cancel()
	e := history.Event{Kind: history.KindHTTP, Worker: history.ProbeWorker, Path: p.path}
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err == nil {
		var resp *http.Response
		if resp, err = p.client.Do(req); err == nil {
			_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxBody))
			_ = resp.Body.Close()
			e.Status = resp.StatusCode
		}
	}
	e.MS = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
			return // the prober is stopping: not a fact about the API
		}
		e.Err = history.ErrWord(err)
		e.Status = 0 // no complete response
	}
	p.sink.Emit(e)
}

// Close stops probing and waits for the probes in flight to end. Safe to
// call more than once.
func (p *Prober) Close() { p.run.stop() }
