package check

import (
	"fmt"
	"sort"
	"strings"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// Pipeline is the pipeline check (multi-pipeline workloads): no worker is
// handed a task of a job whose pipeline it did not ask for.
//
// It reads each job's pipeline from the job events (pipeline) and, from
// every /tasks call of a worker that received tasks, the pipelines the
// worker asked for in its job list (the http event's pipelines) and the
// job of the call (its path). A call whose job's pipeline is not among
// those asked for is a violation, counted by the tasks it received. A
// call without pipelines asked for every pipeline: nothing to judge there.
//
// Nothing to judge when no /tasks call that received tasks names the
// pipelines asked for; unknown when such calls exist but no job event
// names the pipeline of their jobs.
type Pipeline struct {
	named
	jobs     map[int64]string // job → pipeline, from job events
	pending  []pipelineCall   // calls whose job's pipeline was not known yet
	asked    int              // calls that received tasks and named the pipelines asked
	judged   int
	unjudged int
	wrong    int // tasks handed out of a pipeline not asked for
	o        offenses
}

type pipelineCall struct {
	t      float64
	worker string
	job    int64
	asked  string
	n      int
}

// maxPending bounds the calls kept while their job's pipeline is not
// known; past it a call counts as not judged.
const maxPending = 10_000

// NewPipeline returns the pipeline checker.
func NewPipeline(Params) *Pipeline { return &Pipeline{named: "pipeline", jobs: map[int64]string{}} }

// Observe implements [Checker].
func (c *Pipeline) Observe(e *history.Event) {
	switch {
	case e.Kind == history.KindJob && e.Job != 0 && e.Pipeline != "":
		if _, ok := c.jobs[e.Job]; !ok {
			c.jobs[e.Job] = e.Pipeline
		}
	case e.IsTasksCall() && e.Pipelines != "" && e.N > 0:
		job, ok := protocol.JobOfPath(e.Path)
		if !ok {
			return
		}
		c.asked++
		call := pipelineCall{t: e.T, worker: e.Worker, job: job, asked: e.Pipelines, n: e.N}
		if _, known := c.jobs[job]; known {
			c.judge(call)
		} else if len(c.pending) < maxPending {
			c.pending = append(c.pending, call)
		} else {
			c.unjudged++
		}
	}
}

func (c *Pipeline) judge(call pipelineCall) {
	c.judged++
	p := c.jobs[call.job]
	for _, a := range strings.Split(call.asked, ",") {
		if strings.TrimSpace(a) == p {
			return
		}
	}
	c.wrong += call.n
	c.o.add("", "", call.t, "worker %s asked for pipelines %s and was handed %d tasks of job %d, pipeline %s",
		call.worker, call.asked, call.n, call.job, p)
}

// Result implements [Checker].
func (c *Pipeline) Result() Result {
	for _, call := range c.pending {
		if _, known := c.jobs[call.job]; known {
			c.judge(call)
		} else {
			c.unjudged++
		}
	}
	c.pending = nil
	sortOffenses(c.o.list)
	figs := map[string]float64{"calls_judged": float64(c.judged), "calls_unjudged": float64(c.unjudged),
		"jobs_with_pipeline": float64(len(c.jobs)), "wrong_pipeline_tasks": float64(c.wrong)}
	switch {
	case c.asked == 0:
		return c.nothing("no /tasks call that received tasks named the pipelines its worker asked for", figs)
	case c.judged == 0:
		return c.unknown(fmt.Sprintf("%d /tasks calls named the pipelines asked for, but no job event names their jobs' pipeline", c.unjudged), figs)
	}
	pipes := map[string]bool{}
	for _, p := range c.jobs {
		pipes[p] = true
	}
	names := make([]string, 0, len(pipes))
	for p := range pipes {
		names = append(names, p)
	}
	sort.Strings(names)
	summary := fmt.Sprintf("%d /tasks calls judged over %d jobs of pipelines %s; every task went to a worker that asked for its pipeline",
		c.judged, len(c.jobs), strings.Join(names, ", "))
	if c.o.n > 0 {
		summary = fmt.Sprintf("%d tasks in %d /tasks calls went to workers that did not ask for their job's pipeline", c.wrong, c.o.n)
	}
	if c.unjudged > 0 {
		summary += fmt.Sprintf(" (%d calls of jobs without a known pipeline not judged)", c.unjudged)
	}
	return c.result(&c.o, figs, summary)
}
