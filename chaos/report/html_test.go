package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/history"
)

// writeHistory writes events as a history file in dir.
func writeHistory(t testing.TB, dir string, events []history.Event) string {
	t.Helper()
	var b []byte
	for _, e := range events {
		b = e.AppendJSON(b)
		b = append(b, '\n')
	}
	path := filepath.Join(dir, "history.jsonl")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return path
}

// hostile is a history whose every string a writer controls (task ids,
// workers, fault names, links, errors) tries to break out of the page.
func hostile(task string) []history.Event {
	reply := "$JS.ACK.job_1.job-1-consumer.1.1.1.1700000000000000000.0"
	return []history.Event{
		{T: 0.001, Kind: history.KindConfig, AckWait: 2, MaxDeliver: 3, MaxAckPending: 100, WorkerHTTPTimeout: 1, Stream: "job_1", ConsumerName: "job-1-consumer"},
		{T: 0.002, Kind: history.KindPhase, Name: "warmup"},
		{T: 0.01, Kind: history.KindPublish, Task: task, SSeq: 1},
		{T: 0.2, Kind: history.KindFault, ID: "f1", Name: `<img src=x onerror=alert(2)>`, Link: `api-nats"><script>alert(3)</script>`, Phase: "start"},
		{T: 0.3, Kind: history.KindReserve, Task: task, Reply: reply, SSeq: 1, DSeq: 1, DC: 1},
		{T: 1.3, Kind: history.KindHTTP, Worker: `</title><script>alert(4)</script>`, Path: "/api/v2/jobs/1/tasks/", Status: 0, Err: "timeout", MS: 1000, Batch: 24},
		{T: 1.5, Kind: history.KindHTTP, Worker: "w1", Path: "/api/v2/jobs/1/tasks/", Status: 503, MS: 2},
		{T: 1.6, Kind: history.KindConn, Link: "api-nats", ConnID: 1, Phase: history.ConnOpen},
		{T: 2.0, Kind: history.KindFault, ID: "f1", Name: `<img src=x onerror=alert(2)>`, Link: `api-nats"><script>alert(3)</script>`, Phase: "end"},
		{T: 2.4, Kind: history.KindAck, Reply: reply, SSeq: 1, DSeq: 1, DC: 1, Ack: "nak"},
		{T: 3.0, Kind: history.KindPhase, Name: "end"},
	}
}

// TestHTMLEscapes: whatever a history says is text in the page, never
// markup: a task id, a worker, a fault's name and link holding <script>.
func TestHTMLEscapes(t *testing.T) {
	const task = `<script>alert(1)</script>`
	dir := t.TempDir()
	path := writeHistory(t, dir, hostile(task))
	rs, err := check.RunFile(path, check.Params{})
	require.NoError(t, err)
	rep := report.New(report.Meta{Scenario: `<b>scenario</b>`, Variant: "good"}, rs)
	// Whatever the checks decided, name the task as an offense so that it is traced.
	rep.Checks = append(rep.Checks, report.Check{Name: "orphaned", OK: new(bool), Violations: 1, Summary: "1 <i>orphaned</i>",
		Offending: []check.Offense{{Task: task, T: 0.3, Detail: `reserved, never handed out <script>alert(5)</script>`}}})

	var b bytes.Buffer
	require.NoError(t, report.RenderHTML(&b, rep, path))
	page := b.String()
	for _, bad := range []string{"<script>alert", "<img", "<b>scenario", "<i>orphaned", `"><script`} {
		require.NotContains(t, page, bad)
	}
	require.Contains(t, page, "&lt;script&gt;alert(1)&lt;/script&gt;", "the task id is shown, escaped")
	require.Contains(t, page, "&lt;img src=x onerror=alert(2)&gt;", "the fault name is shown, escaped")
	// The only script of the page is its own.
	require.Len(t, regexp.MustCompile(`<script>`).FindAllString(page, -1), 1)
	// The offense links the task's trace, which holds its reserve and its nak.
	require.Contains(t, page, `href="#trace-1"`)
	trace := page[strings.Index(page, `id="trace-1"`):]
	require.Contains(t, trace, "never handed out")
	require.Contains(t, trace, "nak published for delivery 1")
}

// TestHTMLTimelineFromHistory: the page draws what the history holds: the
// fault band, the phases, the calls by class, the links' connections from
// conn events, and says so when the history is missing.
func TestHTMLTimelineFromHistory(t *testing.T) {
	dir := t.TempDir()
	path := writeHistory(t, dir, hostile("1-1"))
	rs, err := check.RunFile(path, check.Params{})
	require.NoError(t, err)
	rep := report.New(report.Meta{Scenario: "s"}, rs)
	var b bytes.Buffer
	require.NoError(t, report.RenderHTML(&b, rep, path))
	page := b.String()
	require.Equal(t, 1, strings.Count(page, `<g class="fault">`))
	require.Len(t, regexp.MustCompile(`class="call snone" d="[^"]*"><title>`).FindAllString(page, -1), 1, "one timed-out call")
	require.Len(t, regexp.MustCompile(`<circle class="call s503" cx="[^"]*" cy="[^"]*" r="3.5"><title>`).FindAllString(page, -1), 1, "one 503")
	require.Contains(t, page, "open connections per link", "conn events draw the links, not the server samples")
	require.Contains(t, page, ">api-nats</text>")
	require.Contains(t, page, `>warmup</text>`)

	b.Reset()
	require.NoError(t, report.RenderHTML(&b, rep, filepath.Join(dir, "missing.jsonl")))
	require.Contains(t, b.String(), "not found: the timeline and the traces need it")
	require.NotContains(t, b.String(), `<svg id="timeline"`)
}

// TestIndexes: a suite's index links each report with its verdict; a
// matrix's shows variant × scenario with each cell's text and link.
func TestIndexes(t *testing.T) {
	dir := t.TempDir()
	ok, bad := true, false
	pass := &report.Report{Scenario: "baseline", Variant: "good", Verdict: report.Pass, Checks: []report.Check{{Name: "no-loss", OK: &ok}}}
	fail := &report.Report{Scenario: "nats-down", Variant: "good", Verdict: report.Fail, Checks: []report.Check{{Name: "fast-503", OK: &bad}}}
	path := filepath.Join(dir, "index.html")
	require.NoError(t, report.WriteSuiteIndex(path, "suite <x>", []report.IndexEntry{
		{Link: "baseline/report.html", Report: pass}, {Link: "nats-down/report.html", Report: fail}}))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	page := string(b)
	require.Contains(t, page, `href="baseline/report.html"`)
	require.Contains(t, page, `href="nats-down/report.html"`)
	require.Contains(t, page, `id="verdict">FAIL<`)
	require.Contains(t, page, "fast-503")
	require.Contains(t, page, "suite &lt;x&gt;")

	require.NoError(t, report.WriteMatrixIndex(path, "verify", []report.MatrixCell{
		{Variant: "swallow-timeout", Scenario: "nats-down", Text: "caught by fast-503", Good: true, Link: "swallow-timeout/nats-down/report.html"},
		{Variant: "good", Scenario: "nats-down", Text: "FALSE ALARM", Good: false, Link: "good/nats-down/report.html"},
		{Variant: "good", Scenario: "baseline", Text: "passed", Good: true},
	}))
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	page = string(b)
	require.Contains(t, page, `<a class="cell good" href="swallow-timeout/nats-down/report.html">caught by fast-503</a>`)
	require.Contains(t, page, `<a class="cell bad" href="good/nats-down/report.html">FALSE ALARM</a>`)
	require.Contains(t, page, `<span class="cell good">passed</span>`)
	require.Contains(t, page, `id="verdict">FAIL<`)
}

// TestHTMLStallBand: the stall check's offending stalls are drawn as bands
// over the throughput, read from the check's own words.
func TestHTMLStallBand(t *testing.T) {
	path := filepath.Join("..", "check", "testdata", "stall", "fail.jsonl")
	rs, err := check.RunFile(path, check.Params{})
	require.NoError(t, err)
	rep := report.New(report.Meta{Scenario: "stall"}, rs)
	require.Contains(t, rep.Failed(), "stall")
	var b bytes.Buffer
	require.NoError(t, report.RenderHTML(&b, rep, path))
	require.Regexp(t, `<g class="stall"><rect class="stall-band" x="[0-9.]+" y="[0-9.]+" width="[0-9.]+"`, b.String(),
		"a failed stall check draws its stall")

	b.Reset()
	ok := filepath.Join("..", "check", "testdata", "stall", "pass.jsonl")
	rs, err = check.RunFile(ok, check.Params{})
	require.NoError(t, err)
	require.NoError(t, report.RenderHTML(&b, report.New(report.Meta{Scenario: "stall"}, rs), ok))
	require.NotContains(t, b.String(), `<g class="stall">`)
}
