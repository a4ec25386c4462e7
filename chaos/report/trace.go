package report

import (
	"fmt"
	"sort"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol/ackreply"
)

// MaxTraces is how many offending tasks report.html traces at most.
const MaxTraces = 20

// maxTraceEvents bounds the events kept for one traced task.
const maxTraceEvents = 200

// trace is the life of one offending task: every event of it in the history.
type trace struct {
	ID     string // anchor id in report.html
	Task   string
	Checks []string // the checks that named it
	sseqs  map[uint64]bool
	Events []history.Event
	Cut    int // events dropped past maxTraceEvents
}

// tracer keeps the events of the tasks the checks named, and nothing else.
type tracer struct {
	traces []*trace
	byTask map[string]*trace
	bySSeq map[uint64]*trace // learned from the task's events, or from an offending reply
}

// newTracer picks the offending tasks of r's checks, in check order, at most
// MaxTraces of them. An offense without a task but with a reply subject is
// traced by the reply's stream sequence.
func newTracer(r *Report) *tracer {
	tr := &tracer{byTask: map[string]*trace{}, bySSeq: map[uint64]*trace{}}
	for _, c := range r.Checks {
		for _, o := range c.Offending {
			var t *trace
			var sseq uint64
			if o.Reply != "" {
				if m, err := ackreply.Parse(o.Reply); err == nil {
					sseq = m.SSeq
				}
			}
			switch {
			case o.Task != "":
				t = tr.byTask[o.Task]
			case sseq != 0:
				t = tr.bySSeq[sseq]
			default:
				continue
			}
			if t == nil {
				if len(tr.traces) == MaxTraces {
					continue
				}
				t = &trace{ID: fmt.Sprintf("trace-%d", len(tr.traces)+1), Task: o.Task, sseqs: map[uint64]bool{}}
				tr.traces = append(tr.traces, t)
				if o.Task != "" {
					tr.byTask[o.Task] = t
				}
			}
			if sseq != 0 && tr.bySSeq[sseq] == nil {
				tr.bySSeq[sseq] = t
				t.sseqs[sseq] = true
			}
			if n := len(t.Checks); n == 0 || t.Checks[n-1] != c.Name {
				t.Checks = append(t.Checks, c.Name)
			}
		}
	}
	return tr
}

// anchor is the anchor of the trace of an offense, or "".
func (tr *tracer) anchor(task, reply string) string {
	if t := tr.byTask[task]; t != nil && task != "" {
		return t.ID
	}
	if reply != "" {
		if m, err := ackreply.Parse(reply); err == nil {
			if t := tr.bySSeq[m.SSeq]; t != nil {
				return t.ID
			}
		}
	}
	return ""
}

// observe keeps e if it belongs to a traced task: by its task, or by its
// stream sequence (acks and advisories name no task).
func (tr *tracer) observe(e *history.Event) {
	if len(tr.traces) == 0 {
		return
	}
	switch e.Kind {
	case history.KindPublish, history.KindReserve, history.KindHandout, history.KindResult,
		history.KindStored, history.KindAck, history.KindAdvisory:
	default:
		return
	}
	var t *trace
	if e.Task != "" {
		t = tr.byTask[e.Task]
		if t == nil && e.SSeq != 0 {
			// a task first named by the reply of an offense
			if s := tr.bySSeq[e.SSeq]; s != nil && s.Task == "" && e.Kind != history.KindAdvisory {
				s.Task = e.Task
				tr.byTask[e.Task] = s
				t = s
			}
		}
	}
	if t == nil && e.SSeq != 0 && (e.Kind == history.KindAck || e.Kind == history.KindAdvisory || e.Task == "") {
		t = tr.bySSeq[e.SSeq]
	}
	if t == nil {
		return
	}
	if e.SSeq != 0 && !t.sseqs[e.SSeq] && e.Task != "" {
		t.sseqs[e.SSeq] = true
		if tr.bySSeq[e.SSeq] == nil {
			tr.bySSeq[e.SSeq] = t
		}
	}
	if len(t.Events) == maxTraceEvents {
		t.Cut++
		return
	}
	t.Events = append(t.Events, *e)
}

// delivery is one delivery of a traced task, as report.html tabulates it.
type delivery struct {
	DC                             int
	Reserved, Handout, Result, Ack string // times, "" when it did not happen
	Worker, Status, AckKind, Reply string
	Orphan                         bool    // reserved, never handed out
	order                          float64 // time of its first event
}

// deliveries groups a trace's events by delivery (reply subject, else dc).
func (t *trace) deliveries() []delivery {
	var out []*delivery
	by := map[string]*delivery{}
	get := func(e *history.Event) *delivery {
		key := e.Reply
		if key == "" && e.DC != 0 {
			key = fmt.Sprintf("dc %d", e.DC)
		}
		if key == "" {
			return nil
		}
		d := by[key]
		if d == nil {
			d = &delivery{DC: e.DC, Reply: e.Reply, order: e.T}
			if d.DC == 0 && e.Reply != "" {
				if m, err := ackreply.Parse(e.Reply); err == nil {
					d.DC = m.Delivered
				}
			}
			by[key] = d
			out = append(out, d)
		}
		return d
	}
	for i := range t.Events {
		e := &t.Events[i]
		switch e.Kind {
		case history.KindReserve:
			if d := get(e); d != nil {
				d.Reserved = secs(e.T)
			}
		case history.KindHandout:
			if d := get(e); d != nil {
				d.Handout, d.Worker = secs(e.T), e.Worker
			}
		case history.KindResult:
			if d := get(e); d != nil {
				d.Result = secs(e.T)
				d.Status = fmt.Sprint(e.Status)
				if e.Status == 0 {
					d.Status = "no response"
				}
				if d.Worker == "" {
					d.Worker = e.Worker
				}
			}
		case history.KindAck:
			if d := get(e); d != nil {
				d.Ack, d.AckKind = secs(e.T), e.Ack
				if d.AckKind == "" {
					d.AckKind = "ack"
				}
			}
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].DC != out[b].DC {
			return out[a].DC < out[b].DC
		}
		return out[a].order < out[b].order
	})
	res := make([]delivery, len(out))
	for i, d := range out {
		d.Orphan = d.Reserved != "" && d.Handout == ""
		res[i] = *d
	}
	return res
}

func secs(t float64) string { return fmt.Sprintf("%.3f s", t) }

// life is the task's fate in one line: published, each delivery's count,
// stored or not, dead-lettered.
func (t *trace) life() []lifeStep {
	var out []lifeStep
	published, stored, dead := -1.0, -1.0, -1.0
	deliveries := 0
	var sseq uint64
	for i := range t.Events {
		e := &t.Events[i]
		switch e.Kind {
		case history.KindPublish:
			if published < 0 {
				published, sseq = e.T, e.SSeq
			}
		case history.KindReserve:
			deliveries++
		case history.KindStored:
			if stored < 0 {
				stored = e.T
			}
		case history.KindAdvisory:
			if e.Type == "max_deliveries" && dead < 0 {
				dead = e.T
			}
		}
	}
	if published >= 0 {
		s := "published at " + secs(published)
		if sseq != 0 {
			s += fmt.Sprintf(" (sseq %d)", sseq)
		}
		out = append(out, lifeStep{Text: s})
	} else {
		out = append(out, lifeStep{Text: "no publish in the history", Bad: true})
	}
	if deliveries > 0 {
		out = append(out, lifeStep{Text: fmt.Sprintf("%d deliveries reserved by the API", deliveries), Bad: deliveries > 1})
	}
	if dead >= 0 {
		out = append(out, lifeStep{Text: "dead-lettered at " + secs(dead), Bad: true})
	}
	if stored >= 0 {
		out = append(out, lifeStep{Text: "result stored at " + secs(stored)})
	} else {
		out = append(out, lifeStep{Text: "result never stored", Bad: true})
	}
	return out
}
