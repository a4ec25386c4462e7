package worker

import "context"

// basic is the "basic" preset: one loop that fetches one batch from each
// incomplete job, processes it and posts its result, and sleeps IdleSleep
// after a round in which no job had work.
func (r *run) basic(ctx context.Context) {
	for ctx.Err() == nil {
		jobs, _ := r.listJobs(ctx)
		worked := false
		for _, j := range jobs {
			if ctx.Err() != nil {
				return
			}
			tasks, ok := r.fetch(ctx, j)
			if !ok || len(tasks) == 0 {
				continue
			}
			worked = true
			if r.w.crashAt(CrashAfterReceive) || !r.download(ctx, len(tasks)) {
				return
			}
			req, ok := r.process(ctx, j, tasks)
			if !ok || r.w.crashAt(CrashAfterProcess) {
				return
			}
			r.post(ctx, j.ID, req)
		}
		if !worked {
			sleep(ctx, r.cfg.IdleSleep)
		}
	}
}
