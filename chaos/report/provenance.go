package report

import (
	"runtime"
	"runtime/debug"
	"time"
)

// Provenance says which build judged a run, against which NATS, when, with
// which seed and command line (its secrets redacted by the caller).
type Provenance struct {
	// Natschaos is natschaos's version: the main module's version from the
	// build information, "(devel)" for a build from a source tree.
	Natschaos string `json:"natschaos"`
	// Revision and Modified are the VCS revision of the build and whether
	// its tree had uncommitted changes, when the build recorded them.
	Revision string `json:"revision,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	// Go is the Go version natschaos was built with.
	Go string `json:"go"`
	// NATSServer is the version nats-server reported in /varz for the
	// server the run used; empty when no sample answered.
	NATSServer string `json:"nats_server,omitempty"`
	// Started is when the run started, RFC 3339 in UTC.
	Started string `json:"started"`
	Seed    int64  `json:"seed"`
	// CommandLine is the command line without its secrets.
	CommandLine []string `json:"command_line,omitempty"`
}

// Build is natschaos's own version, VCS revision and whether the tree was
// modified, from the binary's build information ("(devel)" when it has none).
func Build() (version, revision string, modified bool) {
	version = "(devel)"
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return version, "", false
	}
	if v := info.Main.Version; v != "" {
		version = v
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	return version, revision, modified
}

// NewProvenance is the provenance of a run that started at start with seed;
// natsServer and args (already redacted) may be empty.
func NewProvenance(start time.Time, seed int64, natsServer string, args []string) *Provenance {
	v, rev, mod := Build()
	return &Provenance{
		Natschaos: v, Revision: rev, Modified: mod, Go: runtime.Version(), NATSServer: natsServer,
		Started: start.UTC().Format(time.RFC3339), Seed: seed, CommandLine: args,
	}
}
