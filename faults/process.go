package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"time"

	"github.com/natschaos/natschaos/history"
)

func init() {
	registerFamily("process", NoLink, nil,
		Def{Name: "nats_restart", Doc: "stop NATS node and start it again on the same store and port (kill: SIGKILL)",
			Attrs: []string{"node", "kill"}, Instant: true, Needs: []Need{NeedNATSControl, NeedNATSNode},
			Effects: history.EffectNATSUnreachable | history.EffectNATSRestart, build: buildNATSRestart},
		Def{Name: "nats_pause", Doc: "SIGSTOP an external NATS node for a while (for), then SIGCONT",
			Attrs: []string{"node", "for"}, Instant: true, Span: "for", Needs: []Need{NeedNATSProcess, NeedNATSNode},
			Effects: history.EffectNATSUnreachable, build: buildNATSPause},
		Def{Name: "worker_crash", Doc: "a worker stops dead after receive or process; no result is posted",
			Attrs: []string{"after"}, Instant: true, Needs: []Need{NeedBuiltinWorkers},
			Effects: history.EffectWorkerDies, build: buildWorkerCrash},
		Def{Name: "processor_crash", Doc: "the result processor dies between save and ack for one result in every N or with probability",
			Attrs: []string{"every", "probability"}, Needs: []Need{NeedInProcessAPI},
			Effects: history.EffectProcessorDies, build: buildProcessorCrash},
		actDef("cancel_job", "cancel the job through the API", NeedOwnJob, history.EffectJobCancelled, Process.CancelJob),
		actDef("create_job", "create a second job through the API (one task, not started, the default dispatch mode), ask it for tasks and cancel it; each answer is judged by the contract check", NeedOwnJob, history.EffectJobCreated, Process.CreateJob),
	)
}

// errNoProcess is returned by process faults where the environment cannot
// control processes.
var errNoProcess = errors.New("this environment cannot control processes")

func process(env Env, name string) (Process, error) {
	p := env.Process()
	if p == nil {
		return nil, fmt.Errorf("%s: %w", name, errNoProcess)
	}
	return p, nil
}

func noHeal(context.Context) error { return nil }

// instant injects an instant process fault named name: do, on env's
// processes; what says what failed when do fails. There is nothing to heal.
func instant(env Env, name, what string, do func(Process) error) (Heal, error) {
	p, err := process(env, name)
	if err != nil {
		return nil, err
	}
	if err := do(p); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return noHeal, nil
}

// act is an instant process fault without attributes: one call of the
// environment's [Process].
type act struct {
	id, name string
	do       func(Process, context.Context) error
}

// Name implements [Fault].
func (f act) Name() string { return f.name }

// Inject implements [Fault].
func (f act) Inject(ctx context.Context, env Env) (Heal, error) {
	return instant(env, f.name, f.name, func(p Process) error { return f.do(p, ctx) })
}

// actDef is the Def of an instant process fault without attributes, one
// call of do (an [act]).
func actDef(name, doc string, need Need, effects history.Effects, do func(Process, context.Context) error) Def {
	return Def{Name: name, Doc: doc, Instant: true, Needs: []Need{need}, Effects: effects,
		build: func(id, _ string, a Attrs) (Fault, error) {
			return act{id: id, name: name, do: do}, newAttrReader(a).done(name)
		}}
}

// NATSRestart stops NATS node Node and starts it again on the same store
// and port; Kill chooses SIGKILL over SIGTERM for an external process.
type NATSRestart struct {
	ID   string
	Node int // 0 for a single server
	Kill bool
}

// Name implements Fault.
func (NATSRestart) Name() string { return "nats_restart" }

// Inject implements Fault; the restart is done when Inject returns.
func (f NATSRestart) Inject(ctx context.Context, env Env) (Heal, error) {
	return instant(env, f.Name(), fmt.Sprintf("restart nats node %d", f.Node), func(p Process) error {
		return p.RestartNATS(ctx, f.Node, f.Kill)
	})
}

func buildNATSRestart(id, _ string, a Attrs) (Fault, error) {
	r := newAttrReader(a)
	f := NATSRestart{ID: id, Node: int(r.int64("node", 0)), Kill: r.bool("kill", false)}
	if f.Node < 0 && r.err == nil {
		r.fail("node", "node %d must be ≥ 0", f.Node)
	}
	return f, r.done(f.Name())
}

// NATSPause SIGSTOPs an external NATS node for For, then SIGCONTs it. The
// pause runs in the background; its Heal waits for it and cuts it short
// when the pause is still on.
type NATSPause struct {
	ID   string
	Node int
	For  time.Duration // > 0
}

// Name implements Fault.
func (NATSPause) Name() string { return "nats_pause" }

// Inject implements Fault.
func (f NATSPause) Inject(ctx context.Context, env Env) (Heal, error) {
	if f.For <= 0 {
		return nil, fieldErr("for", "for must be > 0")
	}
	p, err := process(env, f.Name())
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- p.PauseNATS(pctx, f.Node, f.For) }()
	var once sync.Once
	var perr error
	return func(hctx context.Context) error {
		once.Do(func() {
			cancel() // resumes at once when the pause is still on
			select {
			case perr = <-done:
			case <-hctx.Done():
				perr = fmt.Errorf("resume nats node %d: %w", f.Node, hctx.Err())
			}
		})
		return perr
	}, nil
}

func buildNATSPause(id, _ string, a Attrs) (Fault, error) {
	r := newAttrReader(a)
	f := NATSPause{ID: id, Node: int(r.int64("node", 0)), For: r.duration("for", 0)}
	if r.err == nil && f.Node < 0 {
		r.fail("node", "node %d must be ≥ 0", f.Node)
	}
	if r.err == nil && f.For <= 0 {
		r.fail("for", "for must be > 0")
	}
	return f, r.done(f.Name())
}

// The points at which a worker can crash.
const (
	AfterReceive = "receive" // after a /tasks response, before processing
	AfterProcess = "process" // after processing, before posting the result
)

// WorkerCrash makes one worker stop dead at its next point After; no result
// is posted for what it held.
type WorkerCrash struct {
	ID    string
	After string // AfterReceive or AfterProcess
}

// Name implements Fault.
func (WorkerCrash) Name() string { return "worker_crash" }

// Inject implements Fault.
func (f WorkerCrash) Inject(ctx context.Context, env Env) (Heal, error) {
	return instant(env, f.Name(), "crash a worker after "+f.After, func(p Process) error { return p.CrashWorker(ctx, f.After) })
}

func buildWorkerCrash(id, _ string, a Attrs) (Fault, error) {
	r := newAttrReader(a)
	f := WorkerCrash{ID: id, After: r.string("after", AfterReceive)}
	if r.err == nil && f.After != AfterReceive && f.After != AfterProcess {
		r.fail("after", "after must be %s or %s, not %q", AfterReceive, AfterProcess, f.After)
	}
	return f, r.done(f.Name())
}

// ProcessorCrash makes the result processor die between storing a result
// and acking it, for one result in Every or with Probability (exactly one
// of the two is set), until healed.
type ProcessorCrash struct {
	ID          string
	Every       int     // crash on every Every-th result; 0 = use Probability
	Probability float64 // in (0, 1] when Every is 0
}

// Name implements Fault.
func (ProcessorCrash) Name() string { return "processor_crash" }

// Validate checks that exactly one of Every and Probability is set.
func (f ProcessorCrash) Validate() error {
	switch {
	case f.Every < 0:
		return fieldErr("every", "every %d must be ≥ 1", f.Every)
	case f.Every > 0 && f.Probability != 0:
		return fieldErr("probability", "give every or probability, not both")
	case f.Every == 0 && !(f.Probability > 0 && f.Probability <= 1):
		if f.Probability == 0 {
			return fieldErr("every", "give every (N ≥ 1) or probability")
		}
		return fieldErr("probability", "probability %v outside (0, 1]", f.Probability)
	}
	return nil
}

// Inject implements Fault. A probability is drawn from a source seeded from
// env.Rand().
func (f ProcessorCrash) Inject(_ context.Context, env Env) (Heal, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	p, err := process(env, f.Name())
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	n := 0
	rng := rand.New(rand.NewSource(env.Rand().Int63()))
	p.SetProcessorCrash(func() bool {
		mu.Lock()
		defer mu.Unlock()
		if f.Every > 0 {
			n++
			return n%f.Every == 0
		}
		return rng.Float64() < f.Probability
	})
	return func(context.Context) error { p.SetProcessorCrash(nil); return nil }, nil
}

func buildProcessorCrash(id, _ string, a Attrs) (Fault, error) {
	r := newAttrReader(a)
	f := ProcessorCrash{ID: id, Every: int(r.int64("every", 0)), Probability: r.float("probability", 0)}
	if err := r.done(f.Name()); err != nil {
		return nil, err
	}
	return f, f.Validate()
}
