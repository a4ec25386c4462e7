package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/collectors"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/natschaos/natschaos/internal/syncio"
)

// ErrNoProxy is returned for a link that has no proxy.
var ErrNoProxy = errors.New("no proxy for link")

// Embedded is Toxiproxy running in this process, driven through its Go API
// (no HTTP API is opened). It implements [Proxies]; the caller must Close it.
type Embedded struct {
	server *toxiproxy.ApiServer
	log    zerolog.Logger

	mu     sync.Mutex
	closed bool
}

var (
	_ Proxies        = (*Embedded)(nil)
	_ TrafficCounter = (*Embedded)(nil)
)

// NewEmbedded starts an in-process Toxiproxy with no proxies; it is silent.
// It counts the bytes each proxy carries ([Embedded.Traffic]).
func NewEmbedded() (*Embedded, error) {
	log := zerolog.Nop()
	metrics := toxiproxy.NewMetricsContainer(prometheus.NewRegistry())
	metrics.ProxyMetrics = collectors.NewProxyMetricCollectors()
	return &Embedded{
		server: toxiproxy.NewServer(metrics, log),
		log:    log,
	}, nil
}

// Traffic implements [TrafficCounter]: the bytes the proxy of link carried,
// both directions, since it was created (read from Toxiproxy's own counters).
func (e *Embedded) Traffic(ctx context.Context, link string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	pm := e.server.Metrics.ProxyMetrics
	if pm == nil {
		return 0, errors.New("embedded toxiproxy counts no traffic")
	}
	var total float64
	for _, vec := range []*prometheus.CounterVec{pm.ReceivedBytesTotal, pm.SentBytesTotal} {
		ch := make(chan prometheus.Metric, 64)
		go func() { vec.Collect(ch); close(ch) }()
		for m := range ch {
			var d dto.Metric
			if err := m.Write(&d); err != nil {
				continue // a metric that cannot be read counts nothing
			}
			for _, l := range d.GetLabel() {
				if l.GetName() == "proxy" && l.GetValue() == ProxyPrefix+link {
					total += d.GetCounter().GetValue()
				}
			}
		}
	}
	return int64(total), nil
}

// logged attaches the silent logger Toxiproxy looks for in a context.
func (e *Embedded) logged(ctx context.Context) context.Context { return e.log.WithContext(ctx) }

func (e *Embedded) proxy(link string) (*toxiproxy.Proxy, error) {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, errors.New("embedded toxiproxy is closed")
	}
	p, err := e.server.Collection.Get(ProxyPrefix + link)
	if err != nil {
		return nil, fmt.Errorf("%w %s", ErrNoProxy, link)
	}
	return p, nil
}

// Create implements [Proxies].
func (e *Embedded) Create(ctx context.Context, link, listen, upstream string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return "", errors.New("embedded toxiproxy is closed")
	}
	name := ProxyPrefix + link
	if _, err := e.server.Collection.Get(name); err == nil {
		if err := e.server.Collection.Remove(name); err != nil {
			return "", fmt.Errorf("replace proxy %s: %w", name, err)
		}
	}
	p := toxiproxy.NewProxy(e.server, name, listen, upstream)
	if err := e.server.Collection.Add(p, true); err != nil {
		return "", fmt.Errorf("create proxy %s on %s: %w", name, listen, err)
	}
	p.Lock()
	defer p.Unlock()
	return p.Listen, nil
}

// AddToxic implements [Proxies].
func (e *Embedded) AddToxic(ctx context.Context, link string, t Toxic) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := e.proxy(link)
	if err != nil {
		return err
	}
	body, err := json.Marshal(map[string]any{
		"name":       t.Name,
		"type":       t.Type,
		"stream":     t.Stream,
		"toxicity":   t.Toxicity,
		"attributes": t.Attributes,
	})
	if err != nil {
		return fmt.Errorf("encode toxic %s: %w", t.Name, err)
	}
	if _, err := p.Toxics.AddToxicJson(strings.NewReader(string(body))); err != nil {
		return fmt.Errorf("add toxic %s to %s: %w", t.Name, link, err)
	}
	return nil
}

// RemoveToxic implements [Proxies]; removing a toxic that is not there is
// not an error.
func (e *Embedded) RemoveToxic(ctx context.Context, link, name string) error {
	p, err := e.proxy(link)
	if err != nil {
		return err
	}
	if err := p.Toxics.RemoveToxic(e.logged(ctx), name); err != nil && !errors.Is(err, toxiproxy.ErrToxicNotFound) {
		return fmt.Errorf("remove toxic %s from %s: %w", name, link, err)
	}
	return nil
}

// SetEnabled implements [Proxies]. A re-enabled proxy listens on the same
// address again.
func (e *Embedded) SetEnabled(ctx context.Context, link string, enabled bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := e.proxy(link)
	if err != nil {
		return err
	}
	if !enabled {
		p.Stop()
		return nil
	}
	if err := p.Start(); err != nil && !errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
		return fmt.Errorf("enable %s: %w", link, err)
	}
	return nil
}

// Heal implements [Proxies].
func (e *Embedded) Heal(ctx context.Context) error {
	var errs []error
	for name, p := range e.server.Collection.Proxies() {
		if !strings.HasPrefix(name, ProxyPrefix) {
			continue
		}
		p.Toxics.ResetToxics(e.logged(ctx))
		if err := p.Start(); err != nil && !errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
			errs = append(errs, fmt.Errorf("enable %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Close implements [Proxies]: it stops every proxy, closing their
// connections. Closing twice is fine.
func (e *Embedded) Close(ctx context.Context) error {
	if !syncio.Closing(&e.mu, &e.closed) {
		return nil
	}
	for _, p := range e.server.Collection.Proxies() {
		p.Toxics.ResetToxics(e.logged(ctx))
	}
	return e.server.Collection.Clear()
}
