package chaos

import (
	"context"
	"errors"

	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/harness"
	"github.com/natschaos/natschaos/history"
)

// soakTarget is what a soak drives: the embedded stack, or an external
// target started for a soak.
type soakTarget interface {
	faults.Env
	Sink() history.Sink
	Sample(ctx context.Context)
	Heal(ctx context.Context) error
	StartSoak(ctx context.Context) error
	NewSoakJob(ctx context.Context, tasks int, pace func(context.Context) error) (int64, error)
	JobDone(id int64) bool
	ForgetJob(id int64)
	StopWorkers()
}

var (
	_ soakTarget = (*harness.Stack)(nil)
	_ soakTarget = (*harness.External)(nil)
)

// checkSoakExternal refuses the external options a soak cannot honour: it
// creates every job it drives (no --job-id, so nothing to publish into or
// observe), and its built-in workers serve only those jobs (no external
// workers, which would serve every job).
func checkSoakExternal(x *External) error {
	switch {
	case x == nil:
		return nil
	case x.JobID != 0 || x.PublishIntoJob:
		return &UsageError{errors.New("soak creates every job it drives: --job-id and --publish-into-job are for run")}
	case x.ObservePublishes:
		return &UsageError{errors.New("soak publishes its jobs' tasks itself: --observe-publishes is for run")}
	case x.ExternalWorkers:
		return &UsageError{errors.New("soak needs its built-in workers (they serve only the soak's jobs): --external-workers is for run")}
	}
	return nil
}

// startTarget brings the soak's target up — the embedded stack, or the external
// target of RunOptions.External — and returns how to close it: an external
// one cancels, on every way out, the soak's jobs that have not ended.
func (s *soak) startTarget(ctx context.Context) (soakTarget, func(), error) {
	seed := s.rng.Int63()
	if x := s.o.External; x != nil {
		cfg := externalConfig(s.sc, x, seed, s.o.Proxies, s.rec.Since, s.log)
		s.jobs = harness.NewSoakJobs()
		cfg.Soak = s.jobs
		ext, err := harness.StartExternal(ctx, cfg, s.rec)
		if err != nil {
			return nil, nil, err
		}
		return ext, ext.CloseSoak, nil
	}
	cfg := StackConfig(s.sc, seed, s.o.Proxies, s.log)
	cfg.AllJobs = true
	st, err := harness.Start(ctx, cfg, s.rec)
	if err != nil {
		return nil, nil, err
	}
	return st, st.Close, nil
}
