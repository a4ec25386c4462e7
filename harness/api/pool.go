package api

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Settings of the pooled variants' connection pool.
const (
	// DefaultPoolSize bounds the pool when neither Config.MaxConcurrent nor
	// Config.Processes does.
	DefaultPoolSize = 16
	// poolIdle is how long a pooled connection stays open unused: when the
	// load stops, the pool's connections close (connection-leak judges the
	// NATS links 2s after the last request).
	poolIdle = time.Second
)

// connPool is the pooled variants' bounded pool of NATS connections shared
// by the request handlers. The good pool checks a connection before
// handing it out and replaces a dead one; pooled-stale keeps it, left
// reconnecting. A pooled connection also keeps the consumers a /tasks
// opened on it, so that the next /tasks of that job is one pull.
type connPool struct {
	a     *API
	slots chan struct{} // one per connection in use or idle
	mu    sync.Mutex
	idle  []idleConn
	cons  map[*nats.Conn]map[int64]jetstream.Consumer
}

type idleConn struct {
	nc    *nats.Conn
	since time.Time
}

func newConnPool(a *API) *connPool {
	size := a.cfg.MaxConcurrent
	if a.cfg.Processes > 0 {
		size = a.cfg.Processes * max(a.cfg.Threads, 1)
	}
	if size <= 0 {
		size = DefaultPoolSize
	}
	p := &connPool{a: a, slots: make(chan struct{}, size), cons: map[*nats.Conn]map[int64]jetstream.Consumer{}}
	go p.reap()
	return p
}

// get takes a connection from the pool (the good pool checks it with a
// PING first), or opens one, waiting for a slot within ctx; release gives
// it back (or closes it if it broke or ctx ended).
func (p *connPool) get(ctx context.Context) (*nats.Conn, func(), error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	case <-p.a.ctx.Done():
		return nil, nil, ErrClosed
	}
	nc := p.takeIdle()
	if nc != nil && !p.a.beh.poolStale {
		// The health check: one PING round trip within the connect
		// timeout. A connection that does not answer is dropped and the
		// request fails fast, as a connect to an unreachable NATS would.
		fctx, cancel := context.WithTimeout(ctx, p.a.cfg.ConnectTimeout)
		err := nc.FlushWithContext(fctx)
		cancel()
		if err != nil {
			p.discard(nc)
			<-p.slots
			return nil, nil, fmt.Errorf("pooled connection health check: %w", err)
		}
	}
	if nc == nil {
		var err error
		if nc, err = p.dial(); err != nil {
			<-p.slots
			return nil, nil, err
		}
	}
	release := func() {
		if ctx.Err() != nil || (!p.a.beh.poolStale && !nc.IsConnected()) {
			p.discard(nc)
		} else {
			p.mu.Lock()
			p.idle = append(p.idle, idleConn{nc, time.Now()})
			p.mu.Unlock()
		}
		<-p.slots
	}
	return nc, release, nil
}

// takeIdle pops the most recently used idle connection; the good pool
// closes the dead ones it meets (the health check), the stale one hands
// them out.
func (p *connPool) takeIdle() *nats.Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.idle) > 0 {
		nc := p.idle[len(p.idle)-1].nc
		p.idle = p.idle[:len(p.idle)-1]
		if p.a.beh.poolStale || nc.IsConnected() {
			return nc
		}
		p.discardLocked(nc)
	}
	return nil
}

func (p *connPool) dial() (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name("natschaos-api-pool"),
		nats.ErrorHandler(p.a.natsError),
		nats.Timeout(p.a.cfg.ConnectTimeout),
		// Not tied to a request: the connection outlives it.
		nats.SetCustomDialer(&dialer{a: p.a, timeout: p.a.cfg.ConnectTimeout}),
	}
	if p.a.beh.poolStale {
		// The bug: a pooled connection that NATS drops is left to the
		// client's reconnect and handed out meanwhile.
		opts = append(opts, nats.MaxReconnects(badMaxReconnects), nats.ReconnectWait(badReconnectWait))
	} else {
		opts = append(opts, nats.NoReconnect())
	}
	nc, err := p.a.connect(p.a.cfg.NATSURL, opts)
	if err != nil {
		return nil, err
	}
	p.a.requestConns.Add(1)
	return nc, nil
}

func (p *connPool) discard(nc *nats.Conn) {
	p.mu.Lock()
	p.discardLocked(nc)
	p.mu.Unlock()
}

func (p *connPool) discardLocked(nc *nats.Conn) {
	delete(p.cons, nc)
	p.a.closeConn(nc)
}

// reap closes connections idle for poolIdle, until the API closes.
func (p *connPool) reap() {
	t := time.NewTicker(poolIdle / 4)
	defer t.Stop()
	for {
		select {
		case <-p.a.ctx.Done():
			return
		case now := <-t.C:
			p.mu.Lock()
			keep := p.idle[:0]
			for _, c := range p.idle {
				if now.Sub(c.since) >= poolIdle {
					p.discardLocked(c.nc)
				} else {
					keep = append(keep, c)
				}
			}
			p.idle = keep
			p.mu.Unlock()
		}
	}
}

// consumer returns the consumer of job id opened earlier on nc.
func (p *connPool) consumer(nc *nats.Conn, id int64) (jetstream.Consumer, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.cons[nc][id]
	return c, ok
}

// keep remembers the consumer of job id opened on nc; nil forgets it.
func (p *connPool) keep(nc *nats.Conn, id int64, c jetstream.Consumer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c == nil {
		delete(p.cons[nc], id)
		return
	}
	if p.cons[nc] == nil {
		p.cons[nc] = map[int64]jetstream.Consumer{}
	}
	p.cons[nc][id] = c
}
