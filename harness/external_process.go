package harness

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/natschaos/natschaos/faults"
)

// Process implements faults.Env: the job can be cancelled through the API
// and built-in workers crashed; NATS and the API are not the harness's
// processes (see [ExternalUnsupported]).
func (e *External) Process() faults.Process { return externalProcess{e} }

// ExternalUnsupported says why fault cannot run against an external target
// ("" when it can): the harness controls neither the NATS processes nor the
// API's result processor, nor external workers.
func ExternalUnsupported(fault string, externalWorkers bool) string {
	if err := (faults.Spec{Name: fault}).Available(ExternalTarget{ExternalWorkers: externalWorkers}.Capabilities()); err != nil {
		return err.Error()
	}
	return ""
}

type externalProcess struct{ e *External }

func (p externalProcess) RestartNATS(context.Context, int, bool) error {
	return errors.New(ExternalUnsupported("nats_restart", false))
}

func (p externalProcess) PauseNATS(context.Context, int, time.Duration) error {
	return errors.New(ExternalUnsupported("nats_pause", false))
}

func (p externalProcess) CrashWorker(_ context.Context, after string) error {
	if why := ExternalUnsupported("worker_crash", p.e.cfg.ExternalWorkers); why != "" {
		return errors.New(why)
	}
	return p.e.crashWorker(after)
}

func (p externalProcess) RestartAPI(context.Context) error {
	return errors.New(ExternalUnsupported("api_restart", false))
}

func (p externalProcess) SetProcessorCrash(crash func() bool) {
	if crash != nil {
		p.e.log.Error(ExternalUnsupported("processor_crash", false))
	}
}

// CreateJob creates, asks and cancels a second job of the run's own (see
// [ProbeCreate]): the run created its job, so it may create another.
func (p externalProcess) CreateJob(ctx context.Context) error {
	return ProbeCreate(ctx, p.e.Client, p.e.Sink())
}

// CancelJob cancels the job through the API and records the status the API
// then reports (the cancel endpoint returns once the job is cancelled).
func (p externalProcess) CancelJob(ctx context.Context) error {
	job := p.e.Job()
	if err := CancelRun(ctx, p.e.Client, job, p.e.Sink()); err != nil {
		return err
	}
	if _, err := p.e.readBack(ctx); err != nil {
		return fmt.Errorf("read job %d after cancel: %w", job, err)
	}
	return nil
}
