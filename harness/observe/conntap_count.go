package observe

import "strings"

// streamCounts are what one connection sent (and was sent) for one stream.
type streamCounts struct{ jsAPI, pulls, acks, msgs int }

func (n *streamCounts) total() int { return n.jsAPI + n.acks + n.msgs }

// maxPending bounds the streams a connection keeps counts for while the
// run's stream is not known yet; the counts of any further stream are
// the run's.
const maxPending = 16

// count adds what add counts to the run's counts when stream is the run's
// or names none, to foreign when it names another. Until the run's stream
// is known (a job the run creates through the API, whose id comes back
// after its first requests), counts are kept per stream and attributed
// when the connection closes.
func (c *tapConn) count(stream []byte, add func(*streamCounts)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	run := c.t.stream.Load()
	switch {
	case len(stream) == 0:
		add(&c.own)
	case run != nil && *run != "":
		if !otherJobStream(string(stream), *run) {
			add(&c.own)
			return
		}
		var n streamCounts
		add(&n)
		c.foreign += n.total()
	default:
		n := c.pending[string(stream)]
		if n == nil {
			if len(c.pending) >= maxPending {
				add(&c.own)
				return
			}
			if c.pending == nil {
				c.pending = map[string]*streamCounts{}
			}
			n = &streamCounts{}
			c.pending[string(stream)] = n
		}
		add(n)
	}
}

// otherJobStream says whether stream is another job's than run, the run's
// stream: a different stream of the same family, the name up to its last
// "_" ("job_9" beside "job_1"). A stream every job shares (the platform's
// "advisories") is part of the run's work.
func otherJobStream(stream, run string) bool {
	if stream == run {
		return false
	}
	family := run[:strings.LastIndexByte(run, '_')+1]
	return strings.HasPrefix(stream, family)
}

// settle attributes the counts kept per stream — to the run when the
// stream is the run's or the run's stream is still not known, to foreign
// otherwise — and returns the connection's counts.
func (c *tapConn) settle() (own streamCounts, foreign int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	run := c.t.stream.Load()
	for s, n := range c.pending {
		if run != nil && *run != "" && otherJobStream(s, *run) {
			c.foreign += n.total()
			continue
		}
		c.own.jsAPI += n.jsAPI
		c.own.pulls += n.pulls
		c.own.acks += n.acks
		c.own.msgs += n.msgs
	}
	c.pending = nil
	return c.own, c.foreign
}
