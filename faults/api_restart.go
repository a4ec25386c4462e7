package faults

import (
	"context"

	"github.com/natschaos/natschaos/history"
)

// api_restart is a process fault in a file of its own: the API restarts, as
// the platform's web processes do on a deploy or when the web server
// recycles its workers, while workers poll and results flow.

func init() {
	registerFamily("process", NoLink, nil, Def{Name: "api_restart",
		Doc:     "stop the API (requests and NATS operations in progress aborted, queued results dropped) and start it again with the same jobs",
		Instant: true, Needs: []Need{NeedInProcessAPI},
		Effects: history.EffectAPIRestart | history.EffectResponseLost, build: buildAPIRestart})
}

// APIRestart stops the in-process API and starts it again on the same
// address with the same jobs. The restart is done when Inject returns.
type APIRestart struct{ ID string }

// Name implements [Fault].
func (APIRestart) Name() string { return "api_restart" }

// Inject implements [Fault].
func (f APIRestart) Inject(ctx context.Context, env Env) (Heal, error) {
	return instant(env, f.Name(), "restart the api", func(p Process) error { return p.RestartAPI(ctx) })
}

func buildAPIRestart(id, _ string, a Attrs) (Fault, error) {
	r := newAttrReader(a)
	return APIRestart{ID: id}, r.done("api_restart")
}
