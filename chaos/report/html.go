package report

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol/ackreply"
)

//go:embed html.tmpl
var templates embed.FS

var pages = template.Must(template.New("html.tmpl").Funcs(template.FuncMap{
	"n":   func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"add": func(a, b float64) float64 { return a + b },
	"sub": func(a, b float64) float64 { return a - b },
	"mid": func(a, b float64) float64 { return (a + b) / 2 },
}).ParseFS(templates, "html.tmpl"))

// WriteHTML renders report.html for r into path, reading the run's history
// at historyPath once for the timeline and the offending tasks' traces
// (historyPath "" or missing: a page without them, saying so).
func WriteHTML(path string, r *Report, historyPath string) error {
	var b bytes.Buffer
	if err := RenderHTML(&b, r, historyPath); err != nil {
		return err
	}
	return writeFile(path, b.Bytes())
}

// RenderHTML writes report.html for r to w (see [WriteHTML]). Memory stays
// bounded whatever the history's length: the timeline keeps aggregates per
// time bucket, and the traces keep the events of at most [MaxTraces] tasks.
func RenderHTML(w io.Writer, r *Report, historyPath string) error {
	tl := newTimeline(r.DurationSeconds)
	tr := newTracer(r)
	v := &pageView{R: r, Verdict: r.VerdictLine(), VerdictClass: r.Verdict, History: filepath.Base(historyPath)}
	switch _, err := os.Stat(historyPath); {
	case historyPath == "":
		v.HistoryNote = "no history: the timeline and the traces need history.jsonl"
	case err != nil:
		v.HistoryNote = fmt.Sprintf("history %s not found: the timeline and the traces need it", historyPath)
	default:
		warnings, err := history.Each(historyPath, func(e history.Event) error {
			tl.observe(&e)
			tr.observe(&e)
			return nil
		})
		if err != nil {
			return fmt.Errorf("report.html: %w", err)
		}
		v.Warnings = warnings
		tl.finish()
		v.Chart = chart(tl, r.stalls())
	}
	v.build(r, tr)
	if err := pages.ExecuteTemplate(w, "report", v); err != nil {
		return fmt.Errorf("render report.html of %s: %w", r.Scenario, err)
	}
	return nil
}

// pageView is what the report template reads.
type pageView struct {
	R            *Report
	Verdict      string
	VerdictClass string
	History      string
	HistoryNote  string
	Warnings     []string
	Chart        *svgChart
	Figures      []figure
	Faults       []string
	Checks       []checkView
	Traces       []traceView
	Untraced     int // offending tasks past MaxTraces
}

type figure struct {
	Label, Value string
	Bad          bool
}

type checkView struct {
	Name, Mark, Class, Summary, Why string
	Violations                      int
	Offending                       []offenseView
	More                            int // violations not listed
}

type offenseView struct {
	T, Task, Reply, Detail, Anchor string
}

type traceView struct {
	ID, Task   string
	Checks     string
	Life       []lifeStep // published → stored (or not), dead-lettered
	Deliveries []delivery
	Events     []eventView
	Cut        int
}

type lifeStep struct {
	Text string
	Bad  bool
}

type eventView struct {
	T, Kind, What string
	DC            int
}

func (v *pageView) build(r *Report, tr *tracer) {
	t := r.Tasks
	v.Figures = []figure{
		{"duration", fmt.Sprintf("%.1f s", r.DurationSeconds), false},
		{"events", fmt.Sprint(r.Events), false},
		{"published", fmt.Sprint(t.Published), false},
		{"stored", fmt.Sprint(t.Stored), t.Stored < t.Published-t.DeadLettered-t.InFlight},
		{"lost", fmt.Sprint(t.Lost), t.Lost > 0},
		{"dead-lettered", fmt.Sprint(t.DeadLettered), t.DeadLettered > 0},
		{"in flight at end", fmt.Sprint(t.InFlight), t.InFlight > 0},
		{"duplicated", fmt.Sprint(t.Duplicates), t.Duplicates > 0},
		{"redeliveries", fmt.Sprint(r.Redeliveries), false},
		{"orphaned", fmt.Sprint(r.Orphaned), r.Orphaned > 0},
		{"longest stall", fmt.Sprintf("%.2f s", r.MaxStallSeconds), r.failed("stall")},
	}
	for _, f := range r.Faults {
		end := "never healed"
		if f.End != nil {
			end = fmt.Sprintf("%.3f s", *f.End)
		}
		link := ""
		if f.Link != "" {
			link = " on " + f.Link
		}
		v.Faults = append(v.Faults, fmt.Sprintf("%s%s: %.3f s – %s", f.Name, link, f.Start, end))
	}
	for _, c := range r.Checks {
		cv := checkView{Name: c.Name, Summary: c.Summary, Why: c.Why, Violations: c.Violations}
		switch {
		case c.OK == nil && r.Strict:
			cv.Mark, cv.Class = "unknown (strict: FAIL)", "fail"
		case c.OK == nil:
			cv.Mark, cv.Class = "unknown", "unknown"
		case *c.OK:
			cv.Mark, cv.Class = "ok", "ok"
		default:
			cv.Mark, cv.Class = "FAIL", "fail"
		}
		if c.OK == nil || !*c.OK || c.Violations > 0 {
			for _, o := range c.Offending {
				cv.Offending = append(cv.Offending, offenseView{T: fmt.Sprintf("%.3f s", o.T), Task: o.Task, Reply: o.Reply,
					Detail: o.Detail, Anchor: tr.anchor(o.Task, o.Reply)})
			}
			cv.More = max(0, c.Violations-len(c.Offending))
		}
		v.Checks = append(v.Checks, cv)
	}
	if v.Chart == nil {
		return
	}
	for _, t := range tr.traces {
		task := t.Task
		if task == "" {
			task = "(unknown task)"
		}
		tv := traceView{ID: t.ID, Task: task, Checks: strings.Join(t.Checks, ", "), Deliveries: t.deliveries(), Cut: t.Cut, Life: t.life()}
		for i := range t.Events {
			e := &t.Events[i]
			dc := e.DC
			if m, err := ackreply.Parse(e.Reply); dc == 0 && err == nil {
				dc = m.Delivered
			}
			tv.Events = append(tv.Events, eventView{T: fmt.Sprintf("%.3f", e.T), Kind: string(e.Kind), DC: dc, What: describe(e)})
		}
		v.Traces = append(v.Traces, tv)
	}
}

func (r *Report) failed(check string) bool {
	for _, c := range r.Checks {
		if c.Name == check {
			return c.OK != nil && !*c.OK
		}
	}
	return false
}

// describe says what one event of a trace means.
func describe(e *history.Event) string {
	switch e.Kind {
	case history.KindPublish:
		if e.SSeq != 0 {
			return fmt.Sprintf("published: stored in the stream as sseq %d", e.SSeq)
		}
		return "published"
	case history.KindReserve:
		s := fmt.Sprintf("reserved: the API received delivery %d (dseq %d)", e.DC, e.DSeq)
		if e.MS > 0 {
			s += fmt.Sprintf(", pull asked %.1f ms before", e.MS)
		}
		return s
	case history.KindHandout:
		return fmt.Sprintf("handed out to %s", orDash(e.Worker))
	case history.KindResult:
		if e.Status == 0 {
			return fmt.Sprintf("result posted by %s: no response", orDash(e.Worker))
		}
		return fmt.Sprintf("result posted by %s: HTTP %d", orDash(e.Worker), e.Status)
	case history.KindStored:
		return "result stored by the API"
	case history.KindAck:
		a := e.Ack
		if a == "" {
			a = "ack"
		}
		return fmt.Sprintf("%s published for delivery %d", a, e.DC)
	case history.KindAdvisory:
		if e.Type == "max_deliveries" {
			return fmt.Sprintf("advisory max_deliveries after %d deliveries: dead-lettered", e.Deliveries)
		}
		return "advisory " + e.Type
	}
	return string(e.Kind)
}

// IndexEntry is one scenario report a suite's index.html links.
type IndexEntry struct {
	Link   string // the report.html, relative to the index
	Report *Report
}

// MatrixCell is one cell of a verification matrix's index.html.
type MatrixCell struct {
	Variant, Scenario string
	Text              string // "caught by orphaned, stall", "passed", "MISSED", ...
	Good              bool   // what the matrix wants
	Link              string // the cell's report.html, relative to the index; "" when none
}

type indexView struct {
	Title, Verdict, VerdictClass string
	Entries                      []indexRow
	Scenarios                    []string
	Rows                         []matrixRow
}

type indexRow struct {
	Link, Scenario, Variant, Verdict, Class, Failed, Unknown, Why string
	Seed                                                          int64
	Duration                                                      string
}

type matrixRow struct {
	Variant string
	Cells   []*MatrixCell // per scenario; nil when the variant does not run there
}

// WriteSuiteIndex writes an index.html at path linking the reports of a
// suite, each with its verdict.
func WriteSuiteIndex(path, title string, entries []IndexEntry) error {
	v := indexView{Title: title, Verdict: "PASS", VerdictClass: Pass}
	for _, e := range entries {
		r := e.Report
		row := indexRow{Link: e.Link, Scenario: r.Scenario, Variant: orDash(r.Variant), Seed: r.Seed, Verdict: r.VerdictLine(),
			Class: r.Verdict, Failed: strings.Join(r.Failed(), ", "), Unknown: strings.Join(r.Unknown(), ", "), Why: r.Why(),
			Duration: fmt.Sprintf("%.1f s", r.DurationSeconds)}
		v.Entries = append(v.Entries, row)
		switch {
		case r.Verdict == Fail:
			v.Verdict, v.VerdictClass = "FAIL", Fail
		case r.Verdict == Inconclusive && v.VerdictClass == Pass:
			v.Verdict, v.VerdictClass = "INCONCLUSIVE", Inconclusive
		}
	}
	return renderIndex(path, v)
}

// WriteMatrixIndex writes an index.html at path showing a verification
// matrix, variant × scenario, each cell linking its report.
func WriteMatrixIndex(path, title string, cells []MatrixCell) error {
	v := indexView{Title: title, Verdict: "OK", VerdictClass: Pass}
	col := map[string]int{}
	row := map[string]int{}
	for _, c := range cells {
		if _, ok := col[c.Scenario]; !ok {
			col[c.Scenario] = len(v.Scenarios)
			v.Scenarios = append(v.Scenarios, c.Scenario)
		}
	}
	for i := range cells {
		c := &cells[i]
		r, ok := row[c.Variant]
		if !ok {
			r = len(v.Rows)
			row[c.Variant] = r
			v.Rows = append(v.Rows, matrixRow{Variant: c.Variant, Cells: make([]*MatrixCell, len(v.Scenarios))})
		}
		v.Rows[r].Cells[col[c.Scenario]] = c
		if !c.Good {
			v.Verdict, v.VerdictClass = "FAIL", Fail
		}
	}
	if len(cells) == 0 {
		v.Verdict, v.VerdictClass = "EMPTY", Inconclusive
	}
	return renderIndex(path, v)
}

func renderIndex(path string, v indexView) error {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, "index", v); err != nil {
		return fmt.Errorf("render %s: %w", path, err)
	}
	return writeFile(path, b.Bytes())
}
