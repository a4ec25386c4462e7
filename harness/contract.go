package harness

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
	"github.com/natschaos/natschaos/protocol/apicall"
)

// UnknownJob is the job id the contract probes use for "unknown job": no
// API is expected to have a job of that id.
const UnknownJob = 2147483000

// ContractWorker is the X-Natschaos-Worker header of the contract probes.
const ContractWorker = "contract"

// ContractTaskPrefix starts the image id of the well-formed items a
// contract probe posts to /result: nothing of them may ever be stored.
const ContractTaskPrefix = "natschaos-contract-"

// contractTimeout bounds one probe's call.
const contractTimeout = 2 * time.Second

// MaxBatchSize is the largest batch_size /tasks accepts (docs/protocol.md);
// one more is a 400.
const MaxBatchSize = 10000

// contractProbe is one bad or edge-case request and the statuses the API's
// contract (docs/protocol.md) allows for it.
type contractProbe struct {
	name   string
	method string
	path   string // under /api/v2
	token  string // "ok": the API's token; "": none; anything else: sent as a wrong token
	body   string // raw: bad JSON is the point of some probes
	want   []int
	task   string // the image id of the body's well-formed /result items ("" for none)
	// check, when not nil, judges a 2xx answer's body: false records the
	// event's err as bad-body.
	check  func(body []byte) bool
	worker string // the X-Natschaos-Worker header and the event's worker; "" for ContractWorker
}

// contractProbes are the probes of a run whose job is job. They never
// reserve a task of a correct API: the /tasks probes on job send no valid
// token, and every reply subject is made up (stream natschaos_contract),
// never one a worker holds. Probes of an unknown job use [UnknownJob].
func contractProbes(job int64) []contractProbe {
	u := int64(UnknownJob)
	var ps []contractProbe
	add := func(name, method, path, token, body, task string, want ...int) {
		ps = append(ps, contractProbe{name: name, method: method, path: path, token: token, body: body, want: want, task: task})
	}
	// /tasks: bad body 400, then unknown job 404, then token 401 — so a
	// bad body on an unknown job with no token is a 400, and a good body
	// on an unknown job with a wrong token a 404.
	for _, p := range []struct{ name, body string }{
		{"tasks-bad-json", `{"batch_size": `},
		{"tasks-trailing-data", `{"batch_size": 1} {}`},
		{"tasks-batch-missing", `{}`},
		{"tasks-batch-zero", `{"batch_size": 0}`},
		{"tasks-batch-negative", `{"batch_size": -1}`},
		{"tasks-batch-fraction", `{"batch_size": 1.5}`},
		{"tasks-batch-huge", fmt.Sprintf(`{"batch_size": %d}`, MaxBatchSize+1)},
	} {
		add(p.name, http.MethodPost, protocol.TasksPath(u), "", p.body, "", 400)
	}
	add("tasks-batch-one-unknown-job", http.MethodPost, protocol.TasksPath(u), "wrong", `{"batch_size": 1}`, "", 404)
	add("tasks-batch-max-unknown-job", http.MethodPost, protocol.TasksPath(u), "wrong", fmt.Sprintf(`{"batch_size": %d}`, MaxBatchSize), "", 404)
	add("tasks-job-not-a-number", http.MethodPost, "/jobs/x/tasks/", "ok", `{"batch_size": 1}`, "", 404)
	add("tasks-no-token", http.MethodPost, protocol.TasksPath(job), "", `{"batch_size": 1}`, "", 401)
	add("tasks-wrong-token", http.MethodPost, protocol.TasksPath(job), "wrong", `{"batch_size": 1}`, "", 401)

	// /result: every item validated, any bad one → 400 and nothing queued.
	// The platform looks the job up (404, then 401) before the body, the
	// reference API after: probes whose answer depends on that order are
	// left out.
	n := 0
	task := func() string { n++; return ContractTaskPrefix + strconv.Itoa(n) }
	good := func(t string, k int) string {
		return fmt.Sprintf(`{"reply_subject": "$JS.ACK.natschaos_contract.natschaos-contract.1.%d.%d.0.0", "result": {"pipeline": "natschaos-contract", "source_images": [{"id": %q, "url": "http://127.0.0.1/natschaos-contract"}], "detections": [], "total_time": 0.01}}`, k, k, t)
	}
	add("result-bad-json", http.MethodPost, protocol.ResultPath(job), "ok", `{"results": [`, "", 400)
	add("result-missing", http.MethodPost, protocol.ResultPath(job), "ok", `{}`, "", 400)
	add("result-not-a-list", http.MethodPost, protocol.ResultPath(job), "ok", `{"results": {}}`, "", 400)
	for _, p := range []struct{ name, item string }{
		{"no-reply", `{"result": {"error": "x", "image_id": "%s"}}`},
		{"reply-not-ack", `{"reply_subject": "job.1.tasks", "result": {"error": "x", "image_id": "%s"}}`},
		{"result-not-object", `{"reply_subject": "$JS.ACK.natschaos_contract.natschaos-contract.1.9.9.0.0", "result": ["%s"]}`},
		{"error-no-image", `{"reply_subject": "$JS.ACK.natschaos_contract.natschaos-contract.1.9.9.0.0", "result": {"error": "x", "url": "%s"}}`},
		{"no-pipeline", `{"reply_subject": "$JS.ACK.natschaos_contract.natschaos-contract.1.9.9.0.0", "result": {"source_images": [{"id": "%s"}]}}`},
		{"no-source-images", `{"reply_subject": "$JS.ACK.natschaos_contract.natschaos-contract.1.9.9.0.0", "result": {"pipeline": "p", "source_images": [], "url": "%s"}}`},
		{"no-source-id", `{"reply_subject": "$JS.ACK.natschaos_contract.natschaos-contract.1.9.9.0.0", "result": {"pipeline": "p", "source_images": [{"url": "%s"}]}}`},
		{"detections-not-list", `{"reply_subject": "$JS.ACK.natschaos_contract.natschaos-contract.1.9.9.0.0", "result": {"pipeline": "p", "source_images": [{"id": "%s"}], "detections": {}}}`},
		{"total-time-not-number", `{"reply_subject": "$JS.ACK.natschaos_contract.natschaos-contract.1.9.9.0.0", "result": {"pipeline": "p", "source_images": [{"id": "%s"}], "total_time": "1s"}}`},
	} {
		t := task()
		bad := fmt.Sprintf(p.item, t)
		add("result-bad-item-"+p.name, http.MethodPost, protocol.ResultPath(job), "ok",
			fmt.Sprintf(`{"results": [%s, %s, %s]}`, good(t, 1), bad, good(t, 2)), t, 400)
	}
	add("result-empty", http.MethodPost, protocol.ResultPath(job), "ok", `{"results": []}`, "", 200)
	t := task()
	add("result-unknown-job", http.MethodPost, protocol.ResultPath(u), "ok", fmt.Sprintf(`{"results": [%s]}`, good(t, 3)), t, 404)
	t = task()
	add("result-no-token", http.MethodPost, protocol.ResultPath(job), "", fmt.Sprintf(`{"results": [%s]}`, good(t, 4)), t, 401)
	add("result-wrong-token", http.MethodPost, protocol.ResultPath(job), "wrong", fmt.Sprintf(`{"results": [%s]}`, good(t, 5)), t, 401)

	// Reading, listing, creating and cancelling. The root answers 200
	// with a JSON object (the reference API's {"jobs": …}, a REST
	// framework's list of endpoints); it is sent the token, which a
	// correct API ignores there.
	ps = append(ps, contractProbe{name: "root", method: http.MethodGet, path: "/", token: "ok", want: []int{200}, check: isObject})
	add("job-unknown", http.MethodGet, protocol.JobPath(u), "ok", "", "", 404)
	add("job-unknown-no-token", http.MethodGet, protocol.JobPath(u), "", "", "", 404)
	add("job-wrong-token", http.MethodGet, protocol.JobPath(job), "wrong", "", "", 401)
	add("jobs-wrong-token", http.MethodGet, protocol.JobsPath, "wrong", "", "", 401)
	// The workers' job list always names a limit; without one, ids_only
	// answers one job per poll (a 200 like any list). What a limit below 1
	// gets is not the contract's: the reference API answers 400, the Node
	// API of the tests ignores it, a REST framework takes its default.
	ps = append(ps, contractProbe{name: "jobs-no-limit", method: http.MethodGet, path: protocol.JobsPath + "?ids_only=1&incomplete_only=1", token: "ok", want: []int{200}, check: isObject})
	add("create-bad-json", http.MethodPost, protocol.JobsPath, "ok", `{"total": `, "", 400)
	add("cancel-unknown-job", http.MethodPost, protocol.CancelPath(u), "ok", `{}`, "", 404)
	add("cancel-unknown-job-no-token", http.MethodPost, protocol.CancelPath(u), "", `{}`, "", 404)
	return ps
}

// ProbeContract sends the API of c the contract probes of job (bad and
// edge-case requests: bad bodies, batch sizes out of bounds, unknown job,
// missing or wrong token, in the order the API checks them; /result with
// one bad item among good ones) and records each as a contract event. It
// stops at the first probe that got no answer (the API is not answering;
// the event says so), and returns only ctx's error.
func ProbeContract(ctx context.Context, c *APIClient, job int64, sink history.Sink) error {
	client := &http.Client{Timeout: contractTimeout}
	for _, p := range contractProbes(job) {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, _, err := probe(ctx, c, client, p)
		if interrupted(ctx, e, err) {
			return ctx.Err() // not the API's doing
		}
		sink.Emit(e)
		if err != nil && e.Status == 0 {
			return nil
		}
	}
	return nil
}

// probe sends p through hc and returns its contract event and the answer's
// body. err is the transport's: with no status, the event's err names it;
// with a status, the body was torn, and the status is the answer.
func probe(ctx context.Context, c *APIClient, hc *http.Client, p contractProbe) (history.Event, []byte, error) {
	worker := cmp.Or(p.worker, ContractWorker)
	e := history.Event{Kind: history.KindContract, Name: p.name, Path: protocol.APIBase + p.path, Want: wantString(p.want), Task: p.task, Worker: worker}
	if jid, ok := protocol.JobOfPath(p.path); ok {
		e.Job = jid
	}
	var sent []byte
	if p.body != "" {
		sent = []byte(p.body)
	}
	var auth string
	switch p.token {
	case "":
	case "ok":
		auth = apicall.Auth(c.Token)
	default:
		auth = apicall.Auth("natschaos-wrong-" + strconv.Itoa(len(c.Token)))
	}
	r := c.request(p.method, p.path, sent, worker, auth)
	start := time.Now()
	status, body, err := c.send(ctx, hc, r)
	e.MS = float64(time.Since(start).Microseconds()) / 1000
	e.Status = status
	switch {
	case err != nil && status == 0:
		e.Err = history.ErrWord(err)
	case err == nil && p.check != nil && status/100 == 2 && !p.check(body):
		e.Err = history.ErrBadBody
	}
	return e, body, err
}

// interrupted reports whether a probe got no answer because ctx ended: not
// the API's doing, so nothing to record.
func interrupted(ctx context.Context, e history.Event, err error) bool {
	return err != nil && e.Status == 0 && ctx.Err() != nil
}

// isObject reports whether body is a JSON object.
func isObject(body []byte) bool {
	var obj map[string]json.RawMessage
	return json.Unmarshal(body, &obj) == nil && obj != nil
}

func wantString(want []int) string {
	s := make([]string, len(want))
	for i, w := range want {
		s[i] = strconv.Itoa(w)
	}
	return strings.Join(s, ",")
}

// ProbeContract runs the contract probes against the embedded API (see
// [ProbeContract]), for the run's job.
func (s *Stack) ProbeContract(ctx context.Context) error {
	if s.Client == nil || s.Job() == 0 {
		return errors.New("contract probe: no job yet")
	}
	return ProbeContract(ctx, s.Client, s.Job(), s.Sink())
}

// ProbeContract runs the contract probes against the external API (see
// [ProbeContract]), for the run's job.
func (e *External) ProbeContract(ctx context.Context) error {
	if e.Client == nil || e.Job() == 0 {
		return errors.New("contract probe: no job yet")
	}
	return ProbeContract(ctx, e.Client, e.Job(), e.Sink())
}

// CancelRun cancels the run's job through c, as the cancel_job fault does,
// and records the answer as a contract event named "cancel-job" (the
// contract check): 200 with the job's id and a status a cancelled or ended
// job has (its err is bad-body when the answer names another job or another
// status), or 503 when the job's cleanup could not reach NATS — the job is
// then CANCELING, terminal for /tasks, and its cleanup the API's to retry;
// the fault-effect and resource-cleanup checks judge what became of it. A
// field the answer leaves out is not judged. No answer within c's timeout
// (a cancel that hangs while NATS is away) is recorded as such, which fails
// the contract check. Any answer but 200 or 503 is an error: the cancel did
// not happen. A 200 with a wrong body is not: the contract check fails it.
func CancelRun(ctx context.Context, c *APIClient, job int64, sink history.Sink) error {
	e, body, err := probe(ctx, c, c.client(), cancelProbe("cancel-job", job))
	if !interrupted(ctx, e, err) {
		sink.Emit(e)
	}
	switch {
	case err != nil:
		return fmt.Errorf("cancel job %d: %w", job, err)
	case e.Status != http.StatusOK && e.Status != http.StatusServiceUnavailable:
		return fmt.Errorf("cancel job %d: status %d: %s", job, e.Status, truncate(body, 200))
	}
	return nil // a wrong body: the cancel happened; the contract check judges the answer
}

// cancelProbe is the harness's cancel of job, recorded as a contract event
// named name: 200 with an answer that names job (see cancelAnswerOK), or
// 503 when its cleanup could not reach NATS.
func cancelProbe(name string, job int64) contractProbe {
	return contractProbe{name: name, method: http.MethodPost, path: protocol.CancelPath(job), token: "ok",
		body: "{}", want: []int{http.StatusOK, http.StatusServiceUnavailable}, worker: "harness",
		check: func(body []byte) bool { return cancelAnswerOK(body, job) }}
}

// cancelAnswerOK reports whether a cancel's 200 body names job, and a
// status a job has once cancelled (or once it ended before the cancel).
func cancelAnswerOK(body []byte, job int64) bool {
	var a struct {
		ID     any     `json:"id"` // a number, or a string of one
		Status *string `json:"status"`
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if d.Decode(&a) != nil {
		return false
	}
	if a.ID != nil && fmt.Sprint(a.ID) != strconv.FormatInt(job, 10) {
		return false
	}
	return a.Status == nil || protocol.Terminal(*a.Status)
}

// CreateProbeName is the name of the jobs [ProbeCreate] creates.
const CreateProbeName = "natschaos-create-probe"

// ProbeCreate creates a job through c, as the create_job fault does — one
// task, not started, and no dispatch_mode (the documented default is the
// queue's, async_api) — and records the answer as a contract event named
// "create-job": 200 or 201 with the new job's id, or 503 when NATS is
// unreachable (the API then creates nothing). A job it created is the run's
// own, never started and never published into: a /tasks on it must answer
// 200 with no task ("create-job-tasks"; a job of another dispatch mode
// answers 400), it must read back as created, not started, and — when the
// answer says its dispatch_mode — of the queue's mode ("create-job-read"),
// and it is cancelled at once ("create-job-cancel": 200, or 503 with its
// cleanup the API's to retry). Each event names the created
// job, which the checkers leave out of the run's judgement: it never had a
// task. An API that does not answer is the contract check's to fail, not
// an error: ProbeCreate returns only ctx's.
func ProbeCreate(ctx context.Context, c *APIClient, sink history.Sink) error {
	var id int64
	create := contractProbe{name: history.ContractCreateJob, method: http.MethodPost, path: protocol.JobsPath, token: "ok",
		body: fmt.Sprintf(`{"name": %q, "total": 1}`, CreateProbeName), want: []int{http.StatusOK, http.StatusCreated, http.StatusServiceUnavailable},
		worker: "harness", check: func(body []byte) bool { id = createdID(body); return id > 0 }}
	e, _, err := probe(ctx, c, c.client(), create)
	e.Job = id
	if interrupted(ctx, e, err) {
		return ctx.Err()
	}
	sink.Emit(e)
	if err != nil || id == 0 {
		return nil // no answer, a 503, or a 2xx without an id: the contract check judges it
	}
	for _, p := range []contractProbe{
		{name: "create-job-tasks", method: http.MethodPost, path: protocol.TasksPath(id), token: "ok", body: `{"batch_size": 1}`,
			want: []int{http.StatusOK}, worker: "harness", check: noTasks},
		{name: "create-job-read", method: http.MethodGet, path: protocol.JobPath(id), token: "ok",
			want: []int{http.StatusOK}, worker: "harness", check: createdAsAsked},
		cancelProbe("create-job-cancel", id),
	} {
		e, _, err := probe(ctx, c, c.client(), p)
		if interrupted(ctx, e, err) {
			return ctx.Err()
		}
		sink.Emit(e)
	}
	return nil
}

// createdID is the id of a create's answer, 0 when it names none.
func createdID(body []byte) int64 {
	var a struct {
		ID json.Number `json:"id"`
	}
	if json.Unmarshal(body, &a) != nil {
		return 0
	}
	id, err := strconv.ParseInt(a.ID.String(), 10, 64)
	if err != nil || id < 0 {
		return 0
	}
	return id
}

// createdAsAsked reports whether a job read back right after a create
// that named no dispatch_mode and no start_now is what was asked: status
// CREATED and dispatch_mode async_api, each judged when the answer has it.
func createdAsAsked(body []byte) bool {
	var a struct {
		Status   *string `json:"status"`
		Dispatch *string `json:"dispatch_mode"`
	}
	if json.Unmarshal(body, &a) != nil {
		return false
	}
	return (a.Status == nil || *a.Status == protocol.StatusCreated) && (a.Dispatch == nil || *a.Dispatch == protocol.DispatchAsyncAPI)
}

// noTasks reports whether a /tasks answer is a JSON object whose tasks
// list is empty.
func noTasks(body []byte) bool {
	var a struct {
		Tasks *[]json.RawMessage `json:"tasks"`
	}
	return json.Unmarshal(body, &a) == nil && a.Tasks != nil && len(*a.Tasks) == 0
}
