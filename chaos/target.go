package chaos

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand"

	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/harness"
	"github.com/natschaos/natschaos/harness/api"
	"github.com/natschaos/natschaos/harness/worker"
	"github.com/natschaos/natschaos/history"
)

// External is where an external target runs and how a run may treat it:
// the one struct external settings travel in, from the flags to the
// target ([harness.ExternalTarget]).
type External = harness.ExternalTarget

// checkTarget refuses, before anything starts, a scenario whose faults its
// target (the embedded stack, or x) cannot run: what a fault needs, the
// target does not have.
func checkTarget(sc Scenario, x *External) error {
	target := harness.StackCapabilities()
	if x != nil {
		target = x.Capabilities()
	}
	for i, st := range sc.Faults {
		if err := st.Fault.Available(target); err != nil {
			return &UsageError{fmt.Errorf("scenario %s: faults[%d]: %w", sc.Name, i, err)}
		}
	}
	if x == nil {
		return nil
	}
	if sc.SUT.Cluster > 1 {
		return &UsageError{fmt.Errorf("scenario %s: sut.cluster %d starts an embedded cluster; in external mode give one --nats-url per node instead", sc.Name, sc.SUT.Cluster)}
	}
	if len(sc.Workload.Jobs) > 1 || len(sc.Workload.WorkerGroups) > 0 {
		return &UsageError{fmt.Errorf("scenario %s: workload.jobs and workload.worker_groups run on the embedded stack only: an external run creates one job", sc.Name)}
	}
	return nil
}

// StackConfig maps a scenario onto the embedded stack's settings: the one
// place a scenario becomes the harness's configuration.
func StackConfig(s Scenario, seed int64, proxies faults.Proxies, log *slog.Logger) harness.Config {
	w := s.Workload
	return harness.Config{
		API: api.Config{
			Variant:        s.SUT.Variant,
			Token:          fmt.Sprintf("natschaos-%x", seed),
			ConnectTimeout: s.SUT.ConnectTimeout,
			OpTimeout:      s.SUT.OpTimeout,
			FetchWait:      s.SUT.FetchWait,
			AckWait:        s.SUT.AckWait,
			MaxDeliver:     s.SUT.MaxDeliver,
			MaxAckPending:  s.SUT.MaxAckPending,
			MaxConcurrent:  s.SUT.MaxConcurrent,
			Processes:      s.SUT.Processes,
			Threads:        s.SUT.Threads,
			QueueSize:      s.SUT.QueueSize,
			Replicas:       s.Nodes(),
		},
		Worker: worker.Config{
			ID:          "w",
			Preset:      w.Worker,
			BatchSize:   w.BatchSize,
			HTTPTimeout: w.HTTPTimeout,
			JobsTimeout: w.HTTPTimeout,
			// The production worker waits 60 s for a result post and 30 s
			// before abandoning posts; scaled like the /tasks timeout.
			ResultTimeout: 2 * w.HTTPTimeout,
			AbandonAfter:  w.HTTPTimeout,
			ProcessTime:   w.ProcessTime,
			IdleSleep:     w.IdleSleep,
			Fetchers:      w.Fetchers,
		},
		Workers:         w.Workers,
		AltBatchSize:    w.AltBatchSize,
		Cluster:         s.SUT.Cluster,
		Proxies:         proxies,
		Seed:            seed,
		Logger:          log,
		Pipeline:        w.runPipeline(),
		MoreJobs:        w.moreJobs(),
		WorkerPipelines: w.workerPipelines(),
	}
}

// externalConfig maps a scenario and the external target onto the
// external target's settings.
func externalConfig(s Scenario, x *External, seed int64, proxies faults.Proxies, clock func() float64, log *slog.Logger) harness.ExternalConfig {
	st := StackConfig(s, seed, proxies, log)
	return harness.ExternalConfig{
		ExternalTarget: *x,
		Worker:         st.Worker, Workers: st.Workers, AltBatchSize: st.AltBatchSize, ConnectTimeout: s.SUT.ConnectTimeout,
		Proxies: proxies, Clock: clock, Seed: seed, Logger: log,
	}
}

// target is what drive runs the phases against: the embedded stack or an
// external one.
type target interface {
	faults.Env
	NewJob(ctx context.Context, tasks int) (int64, error)
	StartWorkers(ctx context.Context) error
	Ready(ctx context.Context) error
	StopWorkers()
	Drained(ctx context.Context) (bool, error)
	// Cleaned reports whether the job's stream and consumer are gone.
	Cleaned(ctx context.Context) (bool, error)
	Heal(ctx context.Context) error
	Connections(ctx context.Context) (int, error)
	// OpenNATSConns is how many connections are open now through the
	// recording taps of the NATS links (ok false: no taps).
	OpenNATSConns() (n int, ok bool)
	Sample(ctx context.Context)
	Finish(ctx context.Context) error
	// Sink is where the run's own events (phases, fault windows) go, so
	// that they keep their order with the target's.
	Sink() history.Sink
	Close()
}

// start brings the run's target up: the embedded stack, or the external
// one of o.External.
func start(ctx context.Context, sc Scenario, rng *rand.Rand, rec *history.Recorder, sink history.Sink, o RunOptions, log *slog.Logger) (target, error) {
	seed := rng.Int63()
	if o.External != nil {
		x, err := harness.StartExternal(ctx, externalConfig(sc, o.External, seed, o.Proxies, rec.Since, log), sink)
		if err != nil {
			return nil, err
		}
		return x, nil
	}
	st, err := harness.Start(ctx, StackConfig(sc, seed, o.Proxies, log), sink)
	if err != nil {
		return nil, err
	}
	return st, nil
}
