package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natschaos/natschaos/protocol"
)

// slowAckFactor is how many ack_waits the slow-ack variant holds a result
// before acking it.
const slowAckFactor = 1.5

// errQueueFull is a /result that does not fit in the processor's queue.
var errQueueFull = errors.New("result queue full")

// item is one queued result.
type item struct {
	job    int64
	task   string // image id
	reply  string // $JS.ACK subject to ack
	result json.RawMessage
}

// processor is the background result processor (the platform's task
// queue): ProcessorWorkers goroutines taking results from a bounded queue.
type processor struct {
	a *API

	qmu    sync.Mutex
	queue  chan item
	closed bool

	crashMu sync.Mutex
	crash   func() bool

	connMu   sync.Mutex
	nc       *nats.Conn // lazily connected; dropped on any error, closed when idle
	inflight int        // results being processed (under connMu)

	retryMu  sync.Mutex
	retry    map[int64]bool // jobs whose cleanup failed, retried in the background
	retrying bool           // the retry loop runs

	wg sync.WaitGroup
}

func newProcessor(a *API) *processor {
	p := &processor{a: a, queue: make(chan item, a.cfg.QueueSize), retry: map[int64]bool{}}
	for i := 0; i < a.cfg.ProcessorWorkers; i++ {
		p.wg.Add(1)
		go p.run()
	}
	return p
}

// enqueue queues all of items or none.
func (p *processor) enqueue(items []item) error {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if cap(p.queue)-len(p.queue) < len(items) {
		return errQueueFull
	}
	for _, it := range items {
		p.queue <- it // cannot block: room was checked, and only enqueue sends
	}
	return nil
}

func (p *processor) close() {
	p.qmu.Lock()
	if !p.closed {
		p.closed = true
		close(p.queue)
	}
	p.qmu.Unlock()
	p.wg.Wait()
	p.connMu.Lock()
	if p.nc != nil {
		p.a.closeConn(p.nc)
		p.nc = nil
	}
	p.connMu.Unlock()
}

func (p *processor) run() {
	defer p.wg.Done()
	for it := range p.queue {
		if p.a.ctx.Err() != nil {
			continue // closing: drop what is left; NATS redelivers it
		}
		p.connMu.Lock()
		p.inflight++
		p.connMu.Unlock()
		p.process(it)
		p.idle()
	}
}

// idle closes the processor's connection once nothing is queued or in
// flight, as the platform's task queue holds no NATS connection between
// tasks: when the load stops, the server's connections come back to where
// they were (the connection-leak check).
func (p *processor) idle() {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	p.inflight--
	if p.inflight == 0 && len(p.queue) == 0 && p.nc != nil {
		p.a.closeConn(p.nc)
		p.nc = nil
	}
}

// SetProcessorCrash makes the result processor die between storing a result
// and acking it (whichever of the two it does first) for each result for
// which crash returns true; crash is called once per result, from the
// processor's goroutines. The dying result's work is not retried. nil
// removes the hook. It backs faults.Process.SetProcessorCrash.
func (a *API) SetProcessorCrash(crash func() bool) {
	a.proc.crashMu.Lock()
	a.proc.crash = crash
	a.proc.crashMu.Unlock()
}

func (p *processor) dies() bool {
	p.crashMu.Lock()
	crash := p.crash
	p.crashMu.Unlock()
	return crash != nil && crash()
}

// process handles one result, strictly in the order of docs/protocol.md: (1)
// mark processed, (2) save idempotently, (3) mark stored, (4) ack last.
// The variants move the ack.
func (p *processor) process(it item) {
	a := p.a
	log := a.log.With("job", it.job, "task", it.task)
	a.jobs.markProcessed(it.job, it.task) // (1)
	if a.beh.ackBeforeSave {
		// The bug: ack first; a crash now loses the result.
		if err := p.ack(it.reply); err != nil {
			log.Warn("ack failed", "err", err)
		}
		if p.dies() {
			log.Info("processor crash between ack and save")
			return
		}
		p.store(it)
		return
	}
	p.store(it) // (2), (3)
	if p.dies() {
		log.Info("processor crash between save and ack")
		return
	}
	if a.beh.slowAck {
		// The bug: the work is held past ack_wait before the ack.
		t := time.NewTimer(time.Duration(slowAckFactor * float64(a.cfg.AckWait)))
		select {
		case <-t.C:
		case <-a.ctx.Done():
			t.Stop()
			return
		}
	}
	if err := p.ack(it.reply); err != nil { // (4)
		// Not acked: NATS redelivers it after ack_wait, and the replay is
		// stored once.
		log.Warn("ack failed", "err", err)
	}
}

// store is steps (2) and (3); when the job's last result is stored the job
// becomes SUCCESS and its consumer and stream are deleted.
func (p *processor) store(it item) {
	a := p.a
	a.jobs.save(it.job, it.task, it.result)
	complete := a.jobs.markStored(it.job, it.task)
	if complete && a.jobs.setStatus(it.job, protocol.StatusSuccess, protocol.ServesTasks) {
		if err := p.cleanup(a.ctx, it.job); err != nil {
			a.log.Warn("cleanup of a finished job failed; retried in the background", "job", it.job, "err", err)
			p.retryCleanup(it.job)
		}
	}
}

// ack publishes +ACK to reply on the processor's own connection and flushes.
func (p *processor) ack(reply string) error {
	if p.a.beh.ackSetup {
		return p.ackOwnConn(reply)
	}
	nc, err := p.conn()
	if err != nil {
		return err
	}
	if err := nc.Publish(reply, []byte("+ACK")); err != nil {
		p.drop(nc)
		return fmt.Errorf("publish ack: %w", err)
	}
	if err := nc.FlushTimeout(p.a.cfg.OpTimeout); err != nil {
		p.drop(nc)
		return fmt.Errorf("flush ack: %w", err)
	}
	return nil
}

// ackOwnConn is the ack of the ack-connection-setup variant, as the
// platform's code acks: a connection of its own, an advisories stream
// ensured (a JetStream API call), the +ACK and a flush, then close.
func (p *processor) ackOwnConn(reply string) error {
	nc, err := p.a.processorConn()
	if err != nil {
		return err
	}
	defer p.a.closeConn(nc)
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	ctx, cancel := context.WithTimeout(p.a.ctx, p.a.cfg.OpTimeout)
	defer cancel()
	if _, err := js.CreateStream(ctx, p.a.advisoryStreamConfig()); err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("ensure advisories stream: %w", err)
	}
	if err := nc.Publish(reply, []byte("+ACK")); err != nil {
		return fmt.Errorf("publish ack: %w", err)
	}
	if err := nc.FlushTimeout(p.a.cfg.OpTimeout); err != nil {
		return fmt.Errorf("flush ack: %w", err)
	}
	return nil
}

// cleanupJob is cleanup for a caller outside the processor's loop (a
// cancel): it counts as work in flight, so that the connection it opens is
// closed once the processor is idle again.
func (p *processor) cleanupJob(ctx context.Context, id int64) error {
	p.connMu.Lock()
	p.inflight++
	p.connMu.Unlock()
	defer p.idle()
	return p.cleanup(ctx, id)
}

// cleanup deletes a job's consumer and stream (missing ones are fine)
// through the processor's connection, within ctx and OpTimeout.
func (p *processor) cleanup(ctx context.Context, id int64) error {
	if p.a.beh.noCleanup {
		return nil // the bug: the job's stream and consumer stay
	}
	nc, err := p.conn()
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.a.cfg.OpTimeout)
	defer cancel()
	stop := context.AfterFunc(p.a.ctx, cancel)
	defer stop()
	if p.a.beh.consumerFirst {
		// The bug: the consumer goes first, leaving a window in which a
		// racing /tasks creates a fresh one on the old stream.
		if err := js.DeleteConsumer(ctx, protocol.StreamName(id), protocol.ConsumerName(id)); err != nil &&
			!errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
			p.drop(nc)
			return fmt.Errorf("delete consumer %s: %w", protocol.ConsumerName(id), err)
		}
	}
	if err := deleteJobResources(ctx, js, id); err != nil {
		p.drop(nc)
		return err
	}
	p.a.ends.deleted(id)
	return nil
}

// Backoff of the cleanup retries: the first after cleanupRetryFirst,
// doubling up to cleanupRetryMax — never more than two connection attempts
// in two seconds on a link that is down (the connection-flood check).
const (
	cleanupRetryFirst = time.Second
	cleanupRetryMax   = 8 * time.Second
)

// retryCleanup schedules job id's cleanup to be retried until it succeeds
// or the API closes: a finished or cancelled job whose deletion failed
// while NATS was unreachable keeps its stream otherwise (resource-cleanup).
// A job still CANCELING becomes REVOKED once its cleanup succeeds.
func (p *processor) retryCleanup(id int64) {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	if p.closed {
		return
	}
	p.retryMu.Lock()
	defer p.retryMu.Unlock()
	p.retry[id] = true
	if !p.retrying {
		p.retrying = true
		p.wg.Add(1)
		go p.retryLoop()
	}
}

func (p *processor) retryLoop() {
	defer p.wg.Done()
	a := p.a
	for wait := cleanupRetryFirst; ; wait = min(2*wait, cleanupRetryMax) {
		t := time.NewTimer(wait)
		select {
		case <-a.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		p.retryMu.Lock()
		ids := make([]int64, 0, len(p.retry))
		for id := range p.retry {
			ids = append(ids, id)
		}
		p.retryMu.Unlock()
		for _, id := range ids {
			if err := p.cleanupJob(a.ctx, id); err != nil {
				a.log.Debug("cleanup retry failed", "job", id, "err", err)
				continue
			}
			a.jobs.setStatus(id, protocol.StatusRevoked, func(s string) bool { return s == protocol.StatusCanceling })
			p.retryMu.Lock()
			delete(p.retry, id)
			p.retryMu.Unlock()
		}
		p.retryMu.Lock()
		if len(p.retry) == 0 {
			p.retrying = false
			p.retryMu.Unlock()
			return
		}
		p.retryMu.Unlock()
	}
}

// deleteJobResources deletes job id's stream, and its consumer with it,
// within ctx; a stream already gone is not an error.
//
// The stream goes in one call, not the consumer first: a /tasks call that
// passed the terminal guard just before the job ended "ensures the consumer
// exists", and between a consumer delete and a stream delete it would
// create a new durable consumer on the old stream — one that delivers every
// task again from the start (measured: a finished job's tasks handed out a
// second time, with dc 1).
func deleteJobResources(ctx context.Context, js jetstream.JetStream, id int64) error {
	err := js.DeleteStream(ctx, protocol.StreamName(id))
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("delete stream %s: %w", protocol.StreamName(id), err)
	}
	return nil
}

// conn returns the processor's connection, connecting when it has none.
func (p *processor) conn() (*nats.Conn, error) {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	if p.nc != nil && !p.nc.IsClosed() {
		return p.nc, nil
	}
	if p.nc != nil {
		p.a.closeConn(p.nc)
		p.nc = nil
	}
	nc, err := p.a.processorConn()
	if err != nil {
		return nil, err
	}
	p.nc = nc
	return nc, nil
}

// drop closes the processor's connection after an error, so that the next
// result connects afresh.
func (p *processor) drop(nc *nats.Conn) {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	if p.nc == nc {
		p.nc = nil
	}
	p.a.closeConn(nc)
}
