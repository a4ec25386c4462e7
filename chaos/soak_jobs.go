package chaos

import (
	"context"
	"sync"
	"time"

	"github.com/natschaos/natschaos/history"
)

// pacer spaces its callers' events `every` apart, in total across them,
// with no credit for time spent idle.
type pacer struct {
	mu    sync.Mutex
	every time.Duration
	next  time.Time
}

// wait returns when the next event may go, or with ctx's error.
func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	at := p.next
	p.next = p.next.Add(p.every)
	p.mu.Unlock()
	return wait(ctx, time.Until(at))
}

type flight struct {
	created time.Time
	doneAt  time.Time
}

// jobLoop keeps JobsInFlight jobs running until runCtx ends, judges each
// one jobGrace after it ended (or at JobTimeout), then — unless ctx ended
// (interrupted: only what finished is judged) — waits for the jobs still
// in flight, bounded by the drain limit.
func (s *soak) jobLoop(ctx, runCtx context.Context, st soakTarget) error {
	inflight := map[int64]*flight{}
	var retryAt time.Time
	var drainUntil time.Time
	// made receives a paced job once its tasks are published; publishing
	// says one is being published.
	type madeJob struct {
		id  int64
		err error
		at  time.Time
	}
	made := make(chan madeJob, 1)
	publishing := false
	add := func(m madeJob) {
		if m.id != 0 {
			inflight[m.id] = &flight{created: m.at}
		}
		if m.err != nil && runCtx.Err() == nil {
			// The system under test may refuse under a fault: retry later.
			s.mu.Lock()
			s.createErrs++
			s.mu.Unlock()
			s.log.Info("create job", "err", m.err)
			retryAt = time.Now().Add(time.Second)
		}
	}
	end := s.start.Add(s.o.Duration)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		now := time.Now()
		creating := runCtx.Err() == nil
		if !creating && drainUntil.IsZero() {
			drainUntil = now.Add(drainLimit(s.sc, history.Event{}, false) + 30*time.Second)
			st.Sink().Emit(history.Event{Kind: history.KindPhase, Name: history.PhaseDrain})
		}
		for id, f := range inflight {
			if f.doneAt.IsZero() && st.JobDone(id) {
				f.doneAt = now
			}
			timedOut := now.Sub(f.created) > s.o.JobTimeout || (!creating && now.After(drainUntil))
			if (!f.doneAt.IsZero() && now.Sub(f.doneAt) >= jobGrace) || timedOut {
				v := s.j.judgeJob(id, s.rec.Since(), f.doneAt.IsZero())
				s.log.Debug("job judged", "job", id, "verdict", v.Verdict)
				st.ForgetJob(id)
				delete(inflight, id)
			}
		}
		if ctx.Err() != nil {
			if publishing {
				<-made // ctx ended: its publishing stops
			}
			// Interrupted: soakJudge what finished, leave the rest in flight.
			for id, f := range inflight {
				if !f.doneAt.IsZero() {
					s.j.judgeJob(id, s.rec.Since(), false)
				}
			}
			return nil
		}
		if !creating && len(inflight) == 0 && !publishing {
			return nil
		}
		if creating && !publishing && len(inflight) < s.o.JobsInFlight && now.After(retryAt) {
			size := s.o.JobSizeMin + s.rng.Intn(s.o.JobSizeMax-s.o.JobSizeMin+1)
			if s.pace == nil {
				id, err := st.NewSoakJob(runCtx, size, nil)
				add(madeJob{id, err, now})
				continue
			}
			// Paced: no more tasks than the rate allows before the end, so
			// that the job is published (under ctx, not runCtx) by then;
			// published in the background while the jobs in flight are judged.
			size = max(1, min(size, int(s.o.TaskRate*time.Until(end).Seconds())))
			publishing = true
			go func() {
				id, err := st.NewSoakJob(ctx, size, s.pace.wait)
				made <- madeJob{id, err, now}
			}()
			continue
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		case m := <-made:
			publishing = false
			add(m)
		}
	}
}
