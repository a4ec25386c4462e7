package faults

import "github.com/natschaos/natschaos/history"

// api_restart is a process fault in a file of its own: the API restarts, as
// the platform's web processes do on a deploy or when the web server
// recycles its workers, while workers poll and results flow. The restart is
// done when Inject returns.

func init() {
	registerFamily("process", NoLink, nil, actDef("api_restart",
		"stop the API (requests and NATS operations in progress aborted, queued results dropped) and start it again with the same jobs",
		NeedInProcessAPI, history.EffectAPIRestart|history.EffectResponseLost, Process.RestartAPI))
}
