package api

import "maps"

// Restarted returns a new API with a's configuration that takes over what
// outlives a restart of the platform's processes — its database: the jobs,
// when each worker was last seen, the jobs whose cleanup is still to be
// retried, and the mark of its streams — and nothing else: no request, NATS
// connection, queued result or pooled connection of a. A processor crash
// hook set on a is set on the new API too (it is the harness's, not the
// process's). Call it once a is closed; the caller must Close the new API.
func (a *API) Restarted() (*API, error) {
	n, err := New(a.cfg)
	if err != nil {
		return nil, err
	}
	n.jobs = a.jobs
	n.owner = a.owner
	a.seen.mu.Lock()
	n.seen.last = maps.Clone(a.seen.last)
	a.seen.mu.Unlock()
	a.proc.crashMu.Lock()
	crash := a.proc.crash
	a.proc.crashMu.Unlock()
	n.SetProcessorCrash(crash)
	a.proc.retryMu.Lock()
	retry := maps.Clone(a.proc.retry)
	a.proc.retryMu.Unlock()
	for id := range retry {
		n.proc.retryCleanup(id)
	}
	return n, nil
}
