package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// hangTimeout stands for "no timeout" in the no-connect-timeout variant:
// long enough to hang any scenario, short of forever so nothing is unbounded.
const hangTimeout = time.Hour

// Reconnect settings of the reconnect variant: the NATS client's defaults.
const (
	badMaxReconnects = 60
	badReconnectWait = 2 * time.Second
)

// dialer dials NATS for the API: it counts dials and ties every TCP
// connection to the API's lifetime (Close closes it) and, when req is set,
// to a request's (an interrupted request closes its connection at once,
// even in the middle of a connect).
type dialer struct {
	a       *API
	req     context.Context // nil: not tied to a request
	timeout time.Duration
}

func (d *dialer) Dial(network, address string) (net.Conn, error) {
	d.a.dials.Add(1)
	ctx := d.a.ctx
	if d.req != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(d.req)
		stop := context.AfterFunc(d.a.ctx, cancel)
		defer func() { stop(); cancel() }()
	}
	c, err := (&net.Dialer{Timeout: d.timeout}).DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c}
	tc.stops = append(tc.stops, context.AfterFunc(d.a.ctx, tc.closeRaw))
	if d.req != nil {
		tc.stops = append(tc.stops, context.AfterFunc(d.req, tc.closeRaw))
	}
	return tc, nil
}

// trackedConn is a TCP connection that Close of the API (or the end of its
// request) closes; its own Close releases those hooks.
type trackedConn struct {
	net.Conn
	once  sync.Once
	stops []func() bool
}

func (c *trackedConn) closeRaw() { _ = c.Conn.Close() }

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		for _, stop := range c.stops {
			stop()
		}
	})
	return c.Conn.Close()
}

// requestConn opens the NATS connection of one request, with the
// variant's connection settings, and returns the function that releases it
// when the request ends. Good: connect timeout, no reconnect, closed when
// the request ends or is interrupted. The pooled variants take a pooled
// connection instead.
func (a *API) requestConn(ctx context.Context) (*nats.Conn, func(), error) {
	if a.cpool != nil {
		return a.cpool.get(ctx)
	}
	return a.ownConn(ctx)
}

// ownConn is requestConn without the pool: job creation uses it in every
// variant, so that the pool serves the hot path (/tasks) and a pooled
// connection's JetStream requests are those of the /tasks calls it served.
func (a *API) ownConn(ctx context.Context) (*nats.Conn, func(), error) {
	opts := []nats.Option{
		nats.Name("natschaos-api"),
		nats.ErrorHandler(a.natsError),
	}
	switch {
	case a.beh.reconnect:
		// The bug: the client's default reconnect, and a dialer that knows
		// nothing of the request.
		opts = append(opts,
			nats.Timeout(a.cfg.ConnectTimeout),
			nats.MaxReconnects(badMaxReconnects),
			nats.ReconnectWait(badReconnectWait),
			nats.SetCustomDialer(&dialer{a: a, timeout: a.cfg.ConnectTimeout}))
	case a.beh.leakConns:
		// The bug: a dialer that knows nothing of the request (its end
		// does not close the connection), and see release below.
		opts = append(opts,
			nats.Timeout(a.cfg.ConnectTimeout),
			nats.NoReconnect(),
			nats.SetCustomDialer(&dialer{a: a, timeout: a.cfg.ConnectTimeout}))
	case a.beh.retryRefused:
		// The bug's dialer knows nothing of the request either: a retry
		// goes on after the worker gave up.
		opts = append(opts,
			nats.Timeout(a.cfg.ConnectTimeout),
			nats.NoReconnect(),
			nats.SetCustomDialer(&dialer{a: a, timeout: a.cfg.ConnectTimeout}))
	case a.beh.noTimeouts:
		opts = append(opts,
			nats.Timeout(hangTimeout),
			nats.NoReconnect(),
			nats.SetCustomDialer(&dialer{a: a, timeout: hangTimeout}))
	default:
		opts = append(opts,
			nats.Timeout(a.cfg.ConnectTimeout),
			nats.NoReconnect(),
			nats.SetCustomDialer(&dialer{a: a, req: ctx, timeout: a.cfg.ConnectTimeout}))
	}
	nc, err := a.connect(a.cfg.NATSURL, opts)
	for i := 0; err != nil && a.beh.retryRefused && i < badMaxReconnects && (errors.Is(err, nats.ErrNoServers) || errors.Is(err, syscall.ECONNREFUSED)); i++ {
		// The bug: the client library retries a refused first connect
		// (60 x 2s) although reconnect is off, and the request waits.
		// (nats.go reports a refused connect as ErrNoServers.)
		select {
		case <-a.ctx.Done():
			return nil, nil, ErrClosed
		case <-time.After(badReconnectWait):
		}
		nc, err = a.connect(a.cfg.NATSURL, opts)
	}
	if err != nil {
		return nil, nil, err
	}
	a.requestConns.Add(1)
	release := func() { a.closeConn(nc) }
	if a.beh.leakConns {
		release = func() {} // the bug: never closed
	}
	if a.beh.reconnect {
		release = func() {
			if ctx.Err() != nil {
				// The bug: an interrupted request leaves its connection open.
				a.log.Debug("leaving the connection of an interrupted request open")
				return
			}
			a.closeConn(nc)
		}
	}
	return nc, release, nil
}

// processorConn opens a connection of the result processor: connect
// timeout, no reconnect, whatever the variant.
func (a *API) processorConn() (*nats.Conn, error) {
	nc, err := a.connect(a.cfg.ResultsNATSURL, []nats.Option{
		nats.Name("natschaos-api-processor"),
		nats.ErrorHandler(a.natsError),
		nats.Timeout(a.cfg.ConnectTimeout),
		nats.NoReconnect(),
		nats.SetCustomDialer(&dialer{a: a, timeout: a.cfg.ConnectTimeout}),
	})
	if err != nil {
		return nil, err
	}
	a.processorConns.Add(1)
	return nc, nil
}

func (a *API) connect(url string, opts []nats.Option) (*nats.Conn, error) {
	if a.ctx.Err() != nil {
		return nil, ErrClosed
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		a.connectErrors.Add(1)
		return nil, fmt.Errorf("connect to nats: %w", err)
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		nc.Close()
		return nil, ErrClosed
	}
	a.conns[nc] = struct{}{}
	a.mu.Unlock()
	return nc, nil
}

func (a *API) closeConn(nc *nats.Conn) {
	nc.Close()
	a.mu.Lock()
	delete(a.conns, nc)
	a.mu.Unlock()
}

func (a *API) natsError(_ *nats.Conn, sub *nats.Subscription, err error) {
	subj := ""
	if sub != nil {
		subj = sub.Subject
	}
	a.log.Debug("nats async error", "subject", subj, "err", err)
}

// newJetStream returns the JetStream context of a connection; the
// no-connect-timeout variant has no default timeout either.
func (a *API) newJetStream(nc *nats.Conn) (jetstream.JetStream, error) {
	var opts []jetstream.JetStreamOpt
	if a.beh.noTimeouts {
		opts = append(opts, jetstream.WithDefaultTimeout(hangTimeout))
	}
	js, err := jetstream.New(nc, opts...)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return js, nil
}

// opContext bounds one JetStream metadata call or publish by OpTimeout;
// the no-connect-timeout variant does not bound it at all, nor lets the
// request's end interrupt it (only Close does).
func (a *API) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if a.beh.noTimeouts {
		return context.WithCancel(a.ctx)
	}
	return context.WithTimeout(ctx, a.cfg.OpTimeout)
}
