package chaos

import (
	"fmt"
	"strings"

	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/harness"
	"github.com/natschaos/natschaos/protocol"
)

// MaxJobs bounds workload.jobs.
const MaxJobs = 100

// validateJobs refuses workload.jobs and workload.worker_groups that cannot
// run, and a workload that sets both jobs and tasks, or worker_groups and
// workers, to different values.
func (s Scenario) validateJobs() error {
	w := s.Workload
	bad := func(path, format string, a ...any) error {
		return &faults.FieldError{Path: path, Msg: fmt.Sprintf(format, a...)}
	}
	if len(w.Jobs) > MaxJobs {
		return bad("workload.jobs", "%d jobs is more than %d", len(w.Jobs), MaxJobs)
	}
	for i, j := range w.Jobs {
		p := fmt.Sprintf("workload.jobs[%d]", i)
		if j.Tasks < 1 || j.Tasks > MaxTasks {
			return bad(p+".tasks", "%d: want 1 … %d", j.Tasks, MaxTasks)
		}
		if err := validSlug(p+".pipeline", j.Pipeline, true); err != nil {
			return err
		}
	}
	if len(w.Jobs) > 0 && w.Tasks != 0 && w.Tasks != w.Jobs[0].Tasks {
		return bad("workload.tasks", "%d: with jobs, the run's job is jobs[0] (%d tasks): leave tasks out", w.Tasks, w.Jobs[0].Tasks)
	}
	sum := 0
	for i, g := range w.WorkerGroups {
		p := fmt.Sprintf("workload.worker_groups[%d]", i)
		if g.Workers < 1 || g.Workers > MaxWorkers {
			return bad(p+".workers", "%d: want 1 … %d", g.Workers, MaxWorkers)
		}
		for k, slug := range g.Pipelines {
			if err := validSlug(fmt.Sprintf("%s.pipelines[%d]", p, k), slug, false); err != nil {
				return err
			}
		}
		sum += g.Workers
	}
	if len(w.WorkerGroups) > 0 && w.Workers != 0 && w.Workers != sum {
		return bad("workload.workers", "%d: the worker groups have %d workers: leave workers out", w.Workers, sum)
	}
	if sum > MaxWorkers {
		return bad("workload.worker_groups", "%d workers is more than %d", sum, MaxWorkers)
	}
	return nil
}

// validSlug refuses a pipeline slug the job list's pipeline__slug__in
// cannot carry; "" is the API's default pipeline where empty is allowed.
func validSlug(path, slug string, empty bool) error {
	if (slug == "" && !empty) || strings.ContainsAny(slug, ", \t\n") {
		return &faults.FieldError{Path: path, Msg: fmt.Sprintf("pipeline %q: want a slug without commas or spaces", slug)}
	}
	return nil
}

// workerPipelines expands the worker groups into the pipelines of each
// worker, w1 first (nil without groups).
func (w Workload) workerPipelines() [][]string {
	var out [][]string
	for _, g := range w.WorkerGroups {
		for range g.Workers {
			out = append(out, g.Pipelines)
		}
	}
	return out
}

// runPipeline is the pipeline of the run's job ("" = the API's default).
func (w Workload) runPipeline() string {
	if len(w.Jobs) == 0 {
		return ""
	}
	return w.Jobs[0].Pipeline
}

// moreJobs are the jobs after the run's job.
func (w Workload) moreJobs() []harness.JobSpec {
	var out []harness.JobSpec
	for _, j := range w.Jobs[min(1, len(w.Jobs)):] {
		out = append(out, harness.JobSpec{Pipeline: j.Pipeline, Tasks: j.Tasks})
	}
	return out
}

// ownJob says whether a job event's job is the run's: that of the config
// event's stream (job_<id>), or any job when the config names none. The
// caller holds c.mu.
func (c *configTap) ownJob(job int64) bool {
	id, ok := protocol.JobOfStream(c.cfg.Stream)
	return !ok || job == 0 || id == job
}
