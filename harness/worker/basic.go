package worker

import (
	"context"

	"github.com/natschaos/natschaos/protocol"
)

// basic is the "basic" preset: one loop that fetches one batch from each
// incomplete job, processes it and posts its result, and sleeps IdleSleep
// after a round in which no job had work.
func (r *run) basic(ctx context.Context) {
	r.rounds(ctx, func(j protocol.JobRef) (worked, stop bool) {
		tasks, ok := r.fetch(ctx, j)
		if !ok || len(tasks) == 0 {
			return false, false
		}
		if r.w.crashAt(CrashAfterReceive) || !r.download(ctx, len(tasks)) {
			return true, true
		}
		req, ok := r.process(ctx, j, tasks)
		if !ok || r.w.crashAt(CrashAfterProcess) {
			return true, true
		}
		r.post(ctx, j.ID, req)
		return true, false
	})
}

// rounds is the loop of both presets: it lists the incomplete jobs and
// calls work on each, round after round, until ctx ends or work says stop;
// after a round in which no job had work it sleeps IdleSleep.
func (r *run) rounds(ctx context.Context, work func(protocol.JobRef) (worked, stop bool)) {
	for ctx.Err() == nil {
		jobs, _ := r.listJobs(ctx)
		worked := false
		for _, j := range jobs {
			if ctx.Err() != nil {
				return
			}
			w, stop := work(j)
			if stop {
				return
			}
			worked = worked || w
		}
		if !worked {
			sleep(ctx, r.cfg.IdleSleep)
		}
	}
}
