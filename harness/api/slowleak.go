package api

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"

	"github.com/natschaos/natschaos/protocol"
)

// leakEvery is how many /tasks requests the slow-leak variant serves per leak.
const leakEvery = 100

// slowLeak is the state of the slow-leak variant: the count of /tasks
// requests and the one long-lived connection its leaked subscriptions hang on.
type slowLeak struct {
	requests atomic.Uint64
	mu       sync.Mutex
	nc       *nats.Conn
}

// maybeLeak is called by every /tasks request of the slow-leak variant:
// every leakEvery-th one starts a goroutine that subscribes on the leak
// connection and waits for the API's end, never unsubscribing.
func (a *API) maybeLeak() {
	n := a.leak.requests.Add(1)
	if n%leakEvery != 0 {
		return
	}
	go func() {
		if nc := a.leakConn(); nc != nil {
			if _, err := nc.SubscribeSync(fmt.Sprintf("natschaos.leak.%d", n/leakEvery)); err != nil {
				a.log.Debug("slow-leak subscribe", "err", err)
			}
		}
		<-a.ctx.Done() // the bug: held until the API shuts down
	}()
}

// leakConn is the slow-leak variant's long-lived connection (reopened when
// a fault closed it); nil when it cannot connect.
func (a *API) leakConn() *nats.Conn {
	a.leak.mu.Lock()
	defer a.leak.mu.Unlock()
	if a.leak.nc != nil && !a.leak.nc.IsClosed() {
		return a.leak.nc
	}
	nc, err := a.connect(a.cfg.NATSURL, []nats.Option{nats.Name("natschaos-api-leak"),
		nats.Timeout(a.cfg.ConnectTimeout), nats.NoReconnect()})
	if err != nil {
		return nil
	}
	a.leak.nc = nc
	return nc
}

// JobStatus is the status of job id (ok false: unknown), without copying
// the job's stored ids as [API.Job] does.
func (a *API) JobStatus(id int64) (status string, ok bool) { return a.jobs.status(id) }

// Forget removes a job that ended (SUCCESS, FAILURE or REVOKED) from the
// API's job store, its stored results with it; it reports whether it did.
// The store stands in for the platform's database: a soak forgets each job
// once judged, so that the database's growth is not taken for the API's.
func (a *API) Forget(id int64) bool {
	s := a.jobs
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return false
	}
	switch j.status {
	case protocol.StatusSuccess, protocol.StatusFailure, protocol.StatusRevoked:
		delete(s.jobs, id)
		return true
	}
	return false
}
