package chaos

import (
	"context"
	"log/slog"
)

// contractProber is a target that can send its API the contract probes
// (harness.ProbeContract): bad and edge-case requests, judged by the
// contract check.
type contractProber interface {
	ProbeContract(ctx context.Context) error
}

// probeContract runs the contract probes once the drain ended, before the
// read-back: then no probe can take a task from the run (a correct API
// reserves none; a wrong one finds the queue empty or the job finished),
// and a result a wrong API stored from a refused post is in the read-back.
// Every run probes; a target that cannot leaves contract unknown.
func probeContract(ctx context.Context, t target, log *slog.Logger) {
	p, ok := t.(contractProber)
	if !ok {
		return
	}
	if err := p.ProbeContract(ctx); err != nil {
		log.Warn("contract probe", "err", err)
	}
}
