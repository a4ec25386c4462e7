package worker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/natschaos/natschaos/history"
)

// ErrNoWorker is returned by Pool.Crash when every worker already has a
// crash armed.
var ErrNoWorker = errors.New("no worker left to crash")

// Pool runs n workers of one config side by side and crashes one of them on
// demand (the worker_crash fault). Like Worker it holds nothing between
// runs; there is nothing to Close.
type Pool struct {
	workers []*Worker
	restart time.Duration

	mu   sync.Mutex
	next int // where the next Crash starts looking, round robin
}

// NewPool returns a pool of n workers configured as cfg, with ids cfg.ID+"1",
// cfg.ID+"2", ... (cfg.ID defaults to "w", hence "w1", "w2", ...). opts apply
// to every worker; see WithRestartAfter for crashed workers.
func NewPool(n int, cfg Config, sink history.Sink, opts ...Option) (*Pool, error) {
	if n < 1 {
		return nil, fmt.Errorf("worker pool of %d: want >= 1 worker", n)
	}
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	prefix := cfg.ID
	if prefix == "" {
		prefix = "w"
	}
	p := &Pool{restart: o.restartAfter}
	for i := range n {
		c := cfg
		c.ID = prefix + strconv.Itoa(i+1)
		if o.altBatch > 0 && i%2 == 1 {
			c.BatchSize = o.altBatch
		}
		if o.pipelines != nil {
			c.PipelineSlugs = o.pipelines(i)
		}
		w, err := New(c, sink, opts...)
		if err != nil {
			return nil, fmt.Errorf("worker pool: %w", err)
		}
		p.workers = append(p.workers, w)
	}
	return p, nil
}

// Workers returns the pool's workers, in id order.
func (p *Pool) Workers() []*Worker { return append([]*Worker(nil), p.workers...) }

// Stats returns the sum of every worker's counters.
func (p *Pool) Stats() Stats {
	var s Stats
	for _, w := range p.workers {
		s.add(w.Stats())
	}
	return s
}

// Crash arms a one-shot crash (see Worker.Crash) on one worker, chosen round
// robin among the running workers without a crash armed (or, when none runs,
// among the others), and returns its id.
func (p *Pool) Crash(after string) (id string, err error) {
	if after != CrashAfterReceive && after != CrashAfterProcess {
		return "", fmt.Errorf("crash a worker after %q: %w", after, ErrBadCrashPoint)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.workers)
	for _, wantRunning := range []bool{true, false} {
		for k := range n {
			w := p.workers[(p.next+k)%n]
			if running, armed := w.State(); running != wantRunning || armed != "" {
				continue
			}
			if err := w.Crash(after); err != nil {
				return "", err
			}
			p.next = (p.next + k + 1) % n
			return w.ID(), nil
		}
	}
	return "", fmt.Errorf("crash a worker after %q: %w", after, ErrNoWorker)
}

// Run runs every worker until ctx is done and returns nil then. A crashed
// worker stays down unless the pool was built WithRestartAfter; Run returns
// early when every worker is down. Errors other than crashes are joined.
func (p *Pool) Run(ctx context.Context) error {
	errs := make([]error, len(p.workers))
	var wg sync.WaitGroup
	for i, w := range p.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				err := w.Run(ctx)
				if !errors.Is(err, ErrCrashed) {
					errs[i] = err
					return
				}
				if p.restart <= 0 || !sleep(ctx, p.restart) {
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
