package harness

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natschaos/natschaos/faults"
)

// NATSAuth are the credentials of the harness's own NATS connections (the
// observer, the publisher) to an external NATS. At most one of a user, a
// token and a creds file. They are never printed, logged or recorded.
type NATSAuth struct {
	User      string
	Password  string
	Token     string
	CredsFile string
}

// options are the nats.go options of a.
func (a NATSAuth) options() ([]nats.Option, error) {
	n := 0
	for _, set := range []bool{a.User != "", a.Token != "", a.CredsFile != ""} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return nil, errors.New("nats credentials: give a user and password, a token or a creds file, not several")
	case a.Password != "" && a.User == "":
		return nil, errors.New("nats credentials: a password needs a user")
	case a.User != "":
		return []nats.Option{nats.UserInfo(a.User, a.Password)}, nil
	case a.Token != "":
		return []nats.Option{nats.Token(a.Token)}, nil
	case a.CredsFile != "":
		return []nats.Option{nats.UserCredentials(a.CredsFile)}, nil
	}
	return nil, nil
}

// ExternalTarget is where an external target runs and how a run may treat
// it (docs/external.md): the settings a user gives on the command line,
// carried as they are from the flags to [StartExternal] (inside
// [ExternalConfig]). Its credentials are never printed and never written
// into report.json, scenario.yaml or history.jsonl.
type ExternalTarget struct {
	// NATSURLs are the client URLs of the real NATS, one per node (at
	// least one). The api-nats and results-nats proxies forward to the first.
	NATSURLs []string
	// MonitorURLs are the monitoring URLs (http://host:8222), one per node
	// in the order of NATSURLs; empty means port DefaultMonitorPort on the
	// host of each NATS URL.
	MonitorURLs []string
	// APIURL is the API's address, "http://host:8000" (a trailing /api/v2
	// is accepted). Required.
	APIURL string
	// APIToken is the API key ("Authorization: Token <key>"); never printed.
	APIToken string
	// NATS are the credentials of the harness's own NATS connections.
	NATS NATSAuth
	// JobID is an existing job to drive; 0 creates one through the API.
	// The run never cancels a job it did not create.
	JobID int64
	// PublishIntoJob allows publishing the run's made-up tasks into JobID,
	// a job the run did not create (said on Err). Without it, a JobID
	// needs ObservePublishes.
	PublishIntoJob bool
	// ExternalWorkers says that the platform's own workers poll the API
	// through the worker-api proxy: no built-in worker runs, and the
	// recording proxy records handouts, results and calls for them.
	ExternalWorkers bool
	// ObservePublishes records the API's own task publishes (observed on
	// job.*.tasks) instead of publishing the tasks.
	ObservePublishes bool
	// Listen fixes the listen address of a link's proxy (api-nats,
	// results-nats, worker-api); others listen on 127.0.0.1:0.
	Listen map[string]string
	// ReadyTimeout bounds each wait for the system under test (default
	// DefaultReadyTimeout).
	ReadyTimeout time.Duration
	// Out receives the lines that ask something of the user (the addresses
	// to point the system under test at, what the harness waits for).
	Out io.Writer
	// Err receives what the run did to the system under test beyond its
	// own job's work: publishing into a job it did not create, cancelling
	// the job it created on the way out (default: Out).
	Err io.Writer
}

// Check refuses a target that cannot be run against, naming the flag that
// sets what is wrong: both URLs given and well-formed, one monitoring URL
// per NATS URL when any is given, proxy listen addresses for known links,
// a job id only with a way to get its tasks, at most one kind of NATS
// credentials. The command line calls it before anything starts (a usage
// error), and StartExternal again for any other caller.
func (t ExternalTarget) Check() error {
	if len(t.NATSURLs) == 0 || t.APIURL == "" {
		return errors.New("external mode needs both --nats-url and --api-url")
	}
	for _, u := range t.NATSURLs {
		if err := CheckURL("--nats-url", u, "nats", "tls", "ws", "wss"); err != nil {
			return err
		}
	}
	for _, u := range t.MonitorURLs {
		if err := CheckURL("--nats-monitor-url", u, "http", "https"); err != nil {
			return err
		}
	}
	if err := CheckURL("--api-url", t.APIURL, "http", "https"); err != nil {
		return err
	}
	if len(t.MonitorURLs) > 0 && len(t.MonitorURLs) != len(t.NATSURLs) {
		return fmt.Errorf("%d --nats-monitor-url for %d --nats-url: give one per node, in the same order", len(t.MonitorURLs), len(t.NATSURLs))
	}
	for link, addr := range t.Listen {
		switch link {
		case faults.LinkAPINATS, faults.LinkResultsNATS, faults.LinkWorkerAPI:
		default:
			return fmt.Errorf("--proxy %q: unknown link %q (%s, %s, %s)", link+"="+addr, link, faults.LinkAPINATS, faults.LinkResultsNATS, faults.LinkWorkerAPI)
		}
		if err := checkListen(addr); err != nil {
			return fmt.Errorf("--proxy %q: %w", link+"="+addr, err)
		}
	}
	switch {
	case t.JobID < 0:
		return fmt.Errorf("--job-id %d: want a job id ≥ 1", t.JobID)
	case t.JobID != 0 && !t.ObservePublishes && !t.PublishIntoJob:
		return fmt.Errorf("--job-id %d: the run did not create that job, so it does not publish into it: give --observe-publishes (the API publishes its own tasks), or --publish-into-job to publish made-up tasks into it anyway", t.JobID)
	case t.PublishIntoJob && t.JobID == 0:
		return errors.New("--publish-into-job needs --job-id (without it the run publishes into the job it creates)")
	case t.PublishIntoJob && t.ObservePublishes:
		return errors.New("--publish-into-job and --observe-publishes exclude each other")
	}
	_, err := t.NATS.options()
	return err
}

// checkListen refuses a listen address that is not host:port with a port
// from 0 to 65535.
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want LINK=HOST:PORT: %w", err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q: want a number from 0 to 65535", port)
	}
	return nil
}

// monitorURLs are t's monitoring URLs: as given, or port
// DefaultMonitorPort on the host of each NATS URL.
func (t ExternalTarget) monitorURLs() []string {
	if len(t.MonitorURLs) > 0 {
		return t.MonitorURLs
	}
	var out []string
	for _, n := range t.NATSURLs {
		hp, _ := hostPort(n, "4222")
		host, _, _ := net.SplitHostPort(hp)
		out = append(out, "http://"+net.JoinHostPort(host, DefaultMonitorPort))
	}
	return out
}
