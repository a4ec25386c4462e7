package chaos

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/poll"
)

// intervalLoop closes a report interval every ReportEvery: the window
// checks are judged, the history rotated, report.json rewritten.
func (s *soak) intervalLoop(ctx context.Context) {
	poll.Every(ctx, s.o.ReportEvery, func() {
		if _, err := s.rec.Rotate(); err != nil {
			s.log.Warn("rotate history", "err", err)
		}
		rep := s.report(false, false)
		if err := rep.write(s.out); err != nil {
			s.log.Warn("write report", "err", err)
		}
	})
}

// progressLoop writes the progress line: redrawn every second on a
// terminal, a plain line every ProgressEvery otherwise.
func (s *soak) progressLoop(ctx context.Context) {
	if s.o.Progress == nil {
		return
	}
	l := &liveLine{w: s.o.Progress, terminal: s.o.Terminal}
	l.loop(ctx, s.o.ProgressEvery, func() string { return s.live.line(time.Since(s.start), s.o.Duration) }, nil)
}

// procLoop samples the natschaos process — which runs the embedded API —
// every procEvery: RSS, open files, goroutines (proc events). Not in
// external mode: the API is not natschaos's process there.
func (s *soak) procLoop(ctx context.Context) {
	if s.o.External != nil {
		return
	}
	poll.Every(ctx, procEvery, func() {
		s.rec.Emit(history.Event{Kind: history.KindProc, Name: "natschaos", RSS: rss(), FDs: openFiles(), Goroutines: runtime.NumGoroutine()})
	})
}

// rss is this process's resident memory in bytes (Linux; 0 elsewhere).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}

// openFiles is how many files this process has open (Linux; 0 elsewhere).
func openFiles() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}

// cpuTime is the CPU time (user + system) this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
