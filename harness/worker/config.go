package worker

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// The presets of the built-in worker (docs/protocol.md, "The workers").
const (
	// PresetADC models the platform's GPU worker: K parallel fetchers that
	// prefetch batches, one model loop, a bounded pool of result posters.
	PresetADC = "adc"
	// PresetBasic is one loop: fetch one batch per job, process, post.
	PresetBasic = "basic"
)

// Config is the value that describes one worker. The zero value of a
// numeric field means "the docs/protocol.md default" unless its comment says
// otherwise; [DefaultConfig] spells the defaults out. All durations are
// wall-clock time.
type Config struct {
	// BaseURL is the API base as the worker sees it, normally through the
	// worker-api proxy, e.g. "http://127.0.0.1:PORT/api/v2". Required.
	BaseURL string
	// Token is sent as "Authorization: Token <Token>" when not empty.
	Token string
	// ID names the worker in the history ("w1"); sent as the
	// X-Natschaos-Worker header. Required.
	ID string
	// Preset is PresetADC (the default) or PresetBasic.
	Preset string
	// PipelineSlugs are the pipelines the worker serves: they filter GET
	// /jobs/ (pipeline__slug__in), and its /tasks calls record them
	// (http events' pipelines). Empty means all.
	PipelineSlugs []string
	// JobsLimit, when > 0, is the limit of GET /jobs/. 0 sends none, as the
	// platform's worker does (the platform then lists one job per poll);
	// the harness's runs set one so that their workers find the run's jobs
	// among others'.
	JobsLimit int
	// Jobs, when not empty, is the only jobs the worker serves: the answer
	// of GET /jobs/ is intersected with it, so that no /tasks or /result
	// call is ever made for another job (a run's blast radius of one job).
	// Empty means every job the API lists.
	Jobs []int64
	// JobFilter, when not nil, is asked about every job GET /jobs/ lists
	// (after Jobs): the worker serves only those it says true for. A soak
	// against an external API sets it to the jobs the soak created, which
	// come and go.
	JobFilter func(id int64) bool
	// BatchSize is the batch_size of every /tasks call (default 24).
	BatchSize int
	// HTTPTimeout bounds one POST /jobs/{id}/tasks/ call, body included (default 30 s).
	HTTPTimeout time.Duration
	// JobsTimeout bounds one GET /jobs/ attempt (default: HTTPTimeout).
	JobsTimeout time.Duration
	// JobsRetries is how many times GET /jobs/ is retried on a 5xx answer,
	// immediately (default 3; negative means never).
	JobsRetries int
	// ResultTimeout bounds one POST /jobs/{id}/result/ call (default 60 s).
	ResultTimeout time.Duration
	// DownloadTime is the simulated download time of one image; 0 (the
	// default) skips downloading. Images of a batch download DownloadThreads
	// at a time.
	DownloadTime time.Duration
	// ProcessTime is the simulated model time per image; 0 means instant.
	ProcessTime time.Duration
	// IdleSleep is the sleep after a round in which no job had work: the
	// worker's only backoff (default 5 s).
	IdleSleep time.Duration
	// Fetchers is K, the adc preset's parallel /tasks fetchers per job (default 4).
	Fetchers int
	// Prefetch is how many fetched, not yet processed batches one adc
	// fetcher may hold (default 4).
	Prefetch int
	// DownloadThreads is how many images of a batch download at once (default 8).
	DownloadThreads int
	// Posters is the number of adc result-poster threads (default 2).
	Posters int
	// MaxPendingPosts is how many result posts the adc preset keeps pending,
	// queued or in flight, before it waits (default 5).
	MaxPendingPosts int
	// AbandonAfter is how long the adc preset waits, with MaxPendingPosts
	// pending, for one of them to finish before it abandons them all (default 30 s).
	AbandonAfter time.Duration
}

// DefaultConfig returns the settings of docs/protocol.md with the given base URL
// and worker id.
func DefaultConfig(baseURL, id string) Config {
	return Config{
		BaseURL:         baseURL,
		ID:              id,
		Preset:          PresetADC,
		BatchSize:       24,
		HTTPTimeout:     30 * time.Second,
		JobsTimeout:     30 * time.Second,
		JobsRetries:     3,
		ResultTimeout:   60 * time.Second,
		IdleSleep:       5 * time.Second,
		Fetchers:        4,
		Prefetch:        4,
		DownloadThreads: 8,
		Posters:         2,
		MaxPendingPosts: 5,
		AbandonAfter:    30 * time.Second,
	}
}

// withDefaults fills the zero fields that have a default.
func (c Config) withDefaults() Config {
	d := DefaultConfig(c.BaseURL, c.ID)
	if c.Preset == "" {
		c.Preset = d.Preset
	}
	setInt(&c.BatchSize, d.BatchSize)
	setDur(&c.HTTPTimeout, d.HTTPTimeout)
	setDur(&c.JobsTimeout, c.HTTPTimeout)
	setInt(&c.JobsRetries, d.JobsRetries)
	if c.JobsRetries < 0 {
		c.JobsRetries = 0
	}
	setDur(&c.ResultTimeout, d.ResultTimeout)
	setDur(&c.IdleSleep, d.IdleSleep)
	setInt(&c.Fetchers, d.Fetchers)
	setInt(&c.Prefetch, d.Prefetch)
	setInt(&c.DownloadThreads, d.DownloadThreads)
	setInt(&c.Posters, d.Posters)
	setInt(&c.MaxPendingPosts, d.MaxPendingPosts)
	setDur(&c.AbandonAfter, d.AbandonAfter)
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	return c
}

func setInt(p *int, d int) {
	if *p == 0 {
		*p = d
	}
}

func setDur(p *time.Duration, d time.Duration) {
	if *p == 0 {
		*p = d
	}
}

// Validate reports every problem of c, after zero fields take their
// defaults, as one error.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.BaseURL == "" {
		bad("base url is empty")
	} else if u, err := url.Parse(c.BaseURL); err != nil {
		bad("base url %q: %w", c.BaseURL, err)
	} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("base url %q: want http(s)://host[:port]/path", c.BaseURL)
	}
	if c.ID == "" {
		bad("worker id is empty")
	}
	if c.Preset != PresetADC && c.Preset != PresetBasic {
		bad("preset %q: want %q or %q", c.Preset, PresetADC, PresetBasic)
	}
	for _, s := range c.PipelineSlugs {
		if s == "" || strings.Contains(s, ",") {
			bad("pipeline slug %q: empty or contains a comma", s)
		}
	}
	if c.JobsLimit < 0 {
		bad("jobs limit %d: want >= 0", c.JobsLimit)
	}
	for _, id := range c.Jobs {
		if id < 1 {
			bad("job filter: job id %d: want >= 1", id)
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"batch size", c.BatchSize}, {"fetchers", c.Fetchers}, {"prefetch", c.Prefetch},
		{"download threads", c.DownloadThreads}, {"posters", c.Posters}, {"max pending posts", c.MaxPendingPosts},
	} {
		if f.v < 1 {
			bad("%s %d: want >= 1", f.name, f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
		min  time.Duration // smallest valid value
	}{
		{"http timeout", c.HTTPTimeout, 1}, {"jobs timeout", c.JobsTimeout, 1},
		{"result timeout", c.ResultTimeout, 1}, {"idle sleep", c.IdleSleep, 1},
		{"abandon after", c.AbandonAfter, 1},
		{"download time", c.DownloadTime, 0}, {"process time", c.ProcessTime, 0},
	} {
		if f.v < f.min {
			bad("%s %v: want >= %v", f.name, f.v, f.min)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("worker config: %w", err)
	}
	return nil
}
