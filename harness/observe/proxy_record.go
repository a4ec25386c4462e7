package observe

import (
	"encoding/json"
	"time"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
	"github.com/natschaos/natschaos/protocol/ackreply"
)

// handout is one task of a /tasks response, as the proxy records it.
type handout struct {
	task  string
	reply string
	meta  ackreply.Meta
	ok    bool // meta was parsed
}

// parseTasks reads a /tasks response body; nil when it is malformed.
func parseTasks(body []byte) []handout {
	var tr protocol.TasksResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil
	}
	out := make([]handout, 0, len(tr.Tasks))
	for _, t := range tr.Tasks {
		h := handout{task: string(t.ImageID), reply: t.Reply()}
		if t.ReplySubject != nil {
			m, err := ackreply.Parse(h.reply)
			h.meta, h.ok = m, err == nil
		}
		out = append(out, h)
	}
	return out
}

// learn remembers the task of every delivery in a /tasks response body.
func (p *Proxy) learn(body []byte) []handout {
	hs := parseTasks(body)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, h := range hs {
		if h.ok && h.task != "" {
			p.tasks[taskKey{h.meta.Stream, h.meta.SSeq}] = h.task
		}
	}
	return hs
}

// handout records the tasks of a /tasks response the worker got in full.
func (p *Proxy) handout(c *call, body []byte) {
	hs := p.learn(body)
	ms := float64(time.Since(c.start).Microseconds()) / 1000 // how long the call has been under way
	for _, h := range hs {
		e := history.Event{Kind: history.KindHandout, Task: h.task, Reply: h.reply, Worker: c.ev.Worker, MS: ms}
		if h.ok {
			e.SSeq, e.DSeq, e.DC = h.meta.SSeq, h.meta.DSeq, h.meta.Delivered
		}
		p.sink.Emit(e)
	}
	c.ev.N = len(hs)
}

// record emits the events of a finished call.
func (p *Proxy) record(c *call) {
	if !c.record {
		return
	}
	if c.ev.Status == 0 {
		c.ev.Status = c.status
	}
	c.ev.MS = float64(time.Since(c.start).Microseconds()) / 1000
	reqBody := c.reqBody
	switch c.kind {
	case "tasks":
		var tr protocol.TasksRequest
		if json.Unmarshal(reqBody, &tr) == nil {
			c.ev.Batch = tr.BatchSize
		}
		c.ev.Pipelines = p.askedBy(c.ev.Worker)
	case "result":
		var rr protocol.ResultRequest
		if json.Unmarshal(reqBody, &rr) == nil {
			for _, it := range rr.Results {
				e := history.Event{Kind: history.KindResult, Worker: c.ev.Worker, Status: c.status}
				if it.ReplySubject != nil {
					e.Reply = *it.ReplySubject
					e.Task = p.TaskOf(e.Reply)
				}
				var res protocol.Result
				if e.Task == "" && json.Unmarshal(it.Result, &res) == nil {
					e.Task, _ = protocol.IDString(res.ImageID)
				}
				p.sink.Emit(e)
			}
			c.ev.N = len(rr.Results)
		}
	}
	p.sink.Emit(c.ev)
}
