package report_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos"
	"github.com/natschaos/natschaos/history"
)

// chromium is the path of a Chromium to drive, or the test skips (fails
// when CI=true: CI installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH: CI must install it (.ci/run installs Debian's chromium)")
	}
	t.Skip("no chromium on PATH: install it (apt-get install chromium) to test report.html in a browser")
	return ""
}

// artifacts is where the test keeps what a person looks at afterwards.
func artifacts(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("NATSCHAOS_ARTIFACTS"); d != "" {
		require.NoError(t, os.MkdirAll(d, 0o755))
		return d
	}
	return t.TempDir()
}

// browserProblems records what would make a page wrong in a browser: console
// errors, uncaught exceptions, error log entries and any request that leaves
// the file (report.html must need no network).
type browserProblems struct {
	mu   sync.Mutex
	list []string
}

func (b *browserProblems) listen(ev any) {
	var p string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			p = "console.error: " + strings.Join(args, " ")
		}
	case *runtime.EventExceptionThrown:
		p = "exception: " + (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error()
	case *log.EventEntryAdded:
		if ev.Entry != nil && ev.Entry.Level == log.EntryLevelError {
			p = fmt.Sprintf("log error (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	case *network.EventRequestWillBeSent:
		if ev.Request != nil && !strings.HasPrefix(ev.Request.URL, "file://") && !strings.HasPrefix(ev.Request.URL, "data:") {
			p = "network request: " + ev.Request.URL
		}
	}
	if p != "" {
		b.mu.Lock()
		b.list = append(b.list, p)
		b.mu.Unlock()
	}
}

func (b *browserProblems) get() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.list...)
}

// TestReportInBrowser runs http-timeout-batch with the reserve-one-by-one
// variant (it fails: orphaned, stall, tasks-latency) and opens its
// report.html in headless Chromium: no console error and no request, the
// fault band drawn, every timed-out /tasks call drawn, the orphaned row of
// the checks table linking the trace of its task, which shows a delivery
// reserved and never handed out. It keeps a full-page screenshot.
func TestReportInBrowser(t *testing.T) {
	exe := chromium(t)
	dir := t.TempDir()
	sc, ok := chaos.Lookup("http-timeout-batch")
	require.True(t, ok)
	rep, err := chaos.Run(t.Context(), sc, chaos.RunOptions{Out: dir, Variant: "reserve-one-by-one"})
	require.ErrorIs(t, err, chaos.ErrViolated, "the reserve-one-by-one variant must fail http-timeout-batch")
	require.Contains(t, rep.Failed(), "orphaned")
	require.NotEmpty(t, rep.Faults)
	page := filepath.Join(dir, "report.html")
	require.FileExists(t, page)

	timeouts := 0 // the /tasks calls that got no answer, from the history
	_, err = history.Each(filepath.Join(dir, "history.jsonl"), func(e history.Event) error {
		if e.IsTasksCall() && e.Status == 0 {
			timeouts++
		}
		return nil
	})
	require.NoError(t, err)
	require.Positive(t, timeouts, "the run must have timed-out /tasks calls to draw")

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Headless,
		chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1280, 1000))
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	require.NoError(t, chromedp.Do(bctx), "start chromium")
	var problems browserProblems
	require.NoError(t, chromedp.Listen(bctx, problems.listen))
	_, err = chromedp.Call(bctx, log.Enable, struct{}{})
	require.NoError(t, err)
	_, err = chromedp.Call(bctx, network.Enable, network.EnableParams{})
	require.NoError(t, err)

	url := "file://" + page
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("timeline"))))
	eval := func(js string) any {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[any](js))
		require.NoError(t, err, js)
		return v
	}

	// The fault band: one per fault window, with a width, labelled with its link.
	require.EqualValues(t, len(rep.Faults), eval(`document.querySelectorAll("svg#timeline g.fault rect.fault-band").length`))
	require.Equal(t, true, eval(`[...document.querySelectorAll("svg#timeline g.fault rect.fault-band")].every(r => r.getBBox().width > 10)`))
	require.Contains(t, eval(`document.querySelector("svg#timeline g.fault text").textContent`), rep.Faults[0].Link)

	// Every timed-out /tasks call is drawn, at the worker's timeout or later.
	require.EqualValues(t, timeouts, eval(`document.querySelectorAll("svg#timeline #panel-calls > .call.snone").length`))

	// The checks table: orphaned FAILs, and its first offense links a trace.
	require.Equal(t, "FAIL", eval(`document.querySelector('#checks tr.check[data-check="orphaned"] td.mark').textContent`))
	href, ok := eval(`document.querySelector('#checks tr.offenses[data-check="orphaned"] a.trace-link').getAttribute("href")`).(string)
	require.True(t, ok)
	require.True(t, strings.HasPrefix(href, "#trace-"), href)
	require.NoError(t, chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#checks tr.offenses[data-check="orphaned"] a.trace-link`))))
	require.Equal(t, href, eval(`location.hash`))
	require.Equal(t, true, eval(`(() => { const el = document.querySelector(location.hash); const r = el.getBoundingClientRect();
		return el.matches(":target") && r.top >= 0 && r.top < innerHeight && r.height > 0; })()`), "the linked trace must be scrolled into view")

	// The trace: a delivery reserved by the API and never handed out.
	orphan := eval(`(() => { const tr = document.querySelector(location.hash + " tr.delivery.orphan"); return tr ? tr.textContent : ""; })()`)
	require.Contains(t, orphan, "never handed out")
	require.Contains(t, eval(`document.querySelector(location.hash + " table.events").textContent`), "reserve")

	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	out := filepath.Join(artifacts(t), "report-http-timeout-batch-reserve-one-by-one.png")
	require.NoError(t, os.WriteFile(out, shot, 0o644))
	t.Logf("screenshot of %s: %s", url, out)

	require.Empty(t, problems.get(), "the page must load with no console error, no exception and no network request")

	// The listener does hear an error: the assertion above can fail.
	_, err = chromedp.Run(bctx, chromedp.Evaluate[any](`console.error("natschaos probe"), 1`))
	require.NoError(t, err)
	require.Len(t, problems.get(), 1)
	require.Contains(t, problems.get()[0], "natschaos probe")
}
