package chaos

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/history"
)

// liveStats are a soak's running figures, for the progress line, the
// final summary and the Prometheus metrics. The judge feeds them.
type liveStats struct {
	published, stored, tasksCalls atomic.Int64
	jobsPassed, jobsFailed        atomic.Int64
	jobsInconclusive, violations  atomic.Int64

	mu     sync.Mutex
	phase  string            // the last phase event's name
	active map[string]string // fault id → "name link"
	conns  map[string]int    // link → connections open

	m *soakMetrics // nil without --metrics-addr
}

func newLiveStats(m *soakMetrics) *liveStats {
	return &liveStats{active: map[string]string{}, conns: map[string]int{}, m: m}
}

func (l *liveStats) observe(e *history.Event) {
	switch e.Kind {
	case history.KindPhase:
		l.mu.Lock()
		l.phase = e.Name
		l.mu.Unlock()
	case history.KindPublish:
		l.published.Add(1)
		if l.m != nil {
			l.m.published.Inc()
		}
	case history.KindStored:
		l.stored.Add(1)
		if l.m != nil {
			l.m.stored.Inc()
		}
	case history.KindHTTP:
		if e.IsTasksCall() {
			l.tasksCalls.Add(1)
			if l.m != nil {
				l.m.latency.Observe(e.MS / 1000)
			}
		}
	case history.KindFault:
		name := strings.TrimSpace(e.Name + " " + e.Link)
		l.mu.Lock()
		if e.Phase == "start" {
			l.active[e.ID] = name
		} else {
			delete(l.active, e.ID)
		}
		l.mu.Unlock()
		if l.m != nil {
			v := 0.0
			if e.Phase == "start" {
				v = 1
			}
			l.m.fault.WithLabelValues(name).Set(v)
		}
	case history.KindConn:
		d := 0
		switch {
		case e.Phase == history.ConnOpen:
			d = 1
		case e.Phase == history.ConnClose:
			d = -1
		}
		if d != 0 {
			l.mu.Lock()
			l.conns[e.Link] += d
			n := l.conns[e.Link]
			l.mu.Unlock()
			if l.m != nil {
				l.m.conns.WithLabelValues(e.Link).Set(float64(n))
			}
		}
	}
}

func (l *liveStats) violation(name string, n int) {
	l.violations.Add(int64(n))
	if l.m != nil {
		l.m.violations.WithLabelValues(name).Add(float64(n))
	}
}

func (l *liveStats) lost(n int) {
	if l.m != nil && n > 0 {
		l.m.lost.Add(float64(n))
	}
}

func (l *liveStats) jobJudged(verdict string) {
	switch verdict {
	case report.Pass:
		l.jobsPassed.Add(1)
	case report.Fail:
		l.jobsFailed.Add(1)
	default:
		l.jobsInconclusive.Add(1)
	}
	if l.m != nil {
		l.m.jobs.WithLabelValues(verdict).Inc()
	}
}

// activeFaults is the faults active now, "" when none.
func (l *liveStats) activeFaults() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	names := make([]string, 0, len(l.active))
	for _, n := range l.active {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// now is the current phase and the active faults ("none" when none).
func (l *liveStats) now() (phase, fault string) {
	fault = l.activeFaults()
	if fault == "" {
		fault = "none"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.phase, fault
}

// runLine is the progress of one run: its phase, the active fault, the tasks.
func (l *liveStats) runLine() string {
	phase, fault := l.now()
	if phase == "" {
		phase = "starting"
	}
	return fmt.Sprintf("%s  fault: %s  tasks %d stored / %d published", phase, fault, l.stored.Load(), l.published.Load())
}

// line is the soak's progress line.
func (l *liveStats) line(elapsed, total time.Duration) string {
	fault := l.activeFaults()
	if fault == "" {
		fault = "none"
	}
	return fmt.Sprintf("soak %s/%s (%s left)  jobs %d judged (%d failed, %d inconclusive)  tasks %d stored / %d published  /tasks calls %d  fault: %s  violations %d",
		elapsed.Truncate(time.Second), total, max(total-elapsed, 0).Truncate(time.Second),
		l.jobsPassed.Load()+l.jobsFailed.Load()+l.jobsInconclusive.Load(), l.jobsFailed.Load(), l.jobsInconclusive.Load(),
		l.stored.Load(), l.published.Load(), l.tasksCalls.Load(), fault, l.violations.Load())
}

// liveLine is a progress line on w, shared by soak, run and verify: on a
// terminal one line redrawn in place, otherwise plain lines. Println prints
// a line of its own without tearing the redrawn one.
type liveLine struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	drawn    bool
}

// draw shows s: redrawn in place on a terminal, a line of its own otherwise.
func (l *liveLine) draw(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.terminal {
		fmt.Fprintf(l.w, "\r\033[K%s", s)
		l.drawn = true
		return
	}
	fmt.Fprintf(l.w, "natschaos: %s\n", s)
}

// Println prints s as a line of its own, above the redrawn line.
func (l *liveLine) Println(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.drawn {
		fmt.Fprint(l.w, "\r\033[K")
		l.drawn = false
	}
	fmt.Fprintln(l.w, s)
}

// end ends the redrawn line, so that what follows starts on a line of its own.
func (l *liveLine) end() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.drawn {
		fmt.Fprintln(l.w)
		l.drawn = false
	}
}

// loop draws line() until ctx ends: every second on a terminal; otherwise
// every `every` (0 = never) and whenever key() changes (a new phase), so
// that a log shows each step without a line per second. The first state is
// drawn at once, the last when ctx ends.
func (l *liveLine) loop(ctx context.Context, every time.Duration, line func() string, key func() string) {
	defer l.end()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	lastKey := ""
	if key != nil {
		lastKey = key()
	}
	l.draw(line()) // the start
	last := time.Now()
	for {
		stopped := false
		select {
		case <-ctx.Done():
			stopped = true
		case <-t.C:
		}
		k := ""
		if key != nil {
			k = key()
		}
		if l.terminal || k != lastKey || (every > 0 && time.Since(last) >= every) {
			l.draw(line())
			last, lastKey = time.Now(), k
		}
		if stopped {
			return
		}
	}
}

// soakMetrics are the Prometheus metrics of a soak, on a registry of their own.
type soakMetrics struct {
	reg                     *prometheus.Registry
	published, stored, lost prometheus.Counter
	violations, jobs        *prometheus.CounterVec
	fault, conns            *prometheus.GaugeVec
	latency                 prometheus.Histogram
}

func newSoakMetrics() *soakMetrics {
	m := &soakMetrics{
		reg:        prometheus.NewRegistry(),
		published:  prometheus.NewCounter(prometheus.CounterOpts{Name: "natschaos_tasks_published_total", Help: "Tasks stored in their job's stream."}),
		stored:     prometheus.NewCounter(prometheus.CounterOpts{Name: "natschaos_tasks_stored_total", Help: "Task results the API stored."}),
		lost:       prometheus.NewCounter(prometheus.CounterOpts{Name: "natschaos_tasks_lost_total", Help: "Tasks no-loss found lost, in judged jobs."}),
		violations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "natschaos_violations_total", Help: "Violations found, by check."}, []string{"check"}),
		jobs:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "natschaos_jobs_judged_total", Help: "Jobs judged, by verdict."}, []string{"verdict"}),
		fault:      prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "natschaos_fault_active", Help: "1 while the fault is active."}, []string{"fault"}),
		conns:      prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "natschaos_connections_open", Help: "Connections open through a NATS link."}, []string{"link"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "natschaos_tasks_latency_seconds", Help: "Latency of the workers' /tasks calls.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}),
	}
	m.reg.MustRegister(m.published, m.stored, m.lost, m.violations, m.jobs, m.fault, m.conns, m.latency)
	return m
}

// serve serves the metrics on addr at /metrics until the returned stop is called.
func (m *soakMetrics) serve(addr string) (stop func(), bound string, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("--metrics-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // ErrServerClosed at stop
	}()
	return func() { _ = srv.Close(); <-done }, ln.Addr().String(), nil
}
