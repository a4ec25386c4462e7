package protocol

// Job statuses, as the platform names them.
const (
	StatusCreated   = "CREATED"
	StatusStarted   = "STARTED"
	StatusRetry     = "RETRY"
	StatusCanceling = "CANCELING"
	StatusRevoked   = "REVOKED"
	StatusSuccess   = "SUCCESS"
	StatusFailure   = "FAILURE"
)

// ServesTasks says whether a job in status s hands out tasks: STARTED or
// RETRY (the terminal-job guard).
func ServesTasks(s string) bool { return s == StatusStarted || s == StatusRetry }

// Terminal says whether a job in status s is finished or being cancelled:
// no task may be served after it (the terminal-job guard).
func Terminal(s string) bool {
	return s == StatusCanceling || Ended(s)
}

// Cancelled says whether a job in status s was cancelled: CANCELING (its
// cleanup under way or to be retried) or REVOKED.
func Cancelled(s string) bool { return s == StatusCanceling || s == StatusRevoked }

// Ended says whether a job in status s has ended: SUCCESS, FAILURE or
// REVOKED.
func Ended(s string) bool {
	return s == StatusSuccess || s == StatusFailure || s == StatusRevoked
}

// Incomplete says whether the job list's incomplete_only keeps a job in
// status s: as on the platform, every job not finished — not yet started
// and being cancelled included.
func Incomplete(s string) bool {
	return s == StatusStarted || s == StatusRetry || s == StatusCreated || s == StatusCanceling
}

// The dispatch modes of a job: how its tasks reach the workers.
const (
	DispatchAsyncAPI = "async_api" // a NATS stream that workers reserve from through /tasks
	DispatchSyncAPI  = "sync_api"  // no stream: /tasks on such a job is a 400
	DispatchInternal = "internal"  // no stream: /tasks on such a job is a 400
)

// CreateJobRequest is the body of POST /jobs/. Total and StartNow are
// pointers so that a reader can tell a missing field from a zero one; the
// pipeline is named by PipelineSlug or, failing that, Pipeline.
type CreateJobRequest struct {
	Name         string `json:"name"`
	DispatchMode string `json:"dispatch_mode,omitempty"`
	StartNow     *bool  `json:"start_now,omitempty"`
	Total        *int   `json:"total,omitempty"`
	PipelineSlug string `json:"pipeline_slug,omitempty"`
	Pipeline     string `json:"pipeline,omitempty"`
}

// JobRef is a job as GET /jobs/?ids_only=1 lists it.
type JobRef struct {
	ID       int64  `json:"id"`
	Pipeline string `json:"pipeline_slug"`
}

// Job is a job as GET /jobs/{id}/ shows it, and an item of GET /jobs/.
type Job struct {
	JobRef
	Name      string   `json:"name"`
	Dispatch  string   `json:"dispatch_mode"`
	Status    string   `json:"status"`
	Progress  Progress `json:"progress"`
	StoredIDs []string `json:"stored_ids"` // image ids in the order they were stored
}

// Progress counts a job's stored results against its total.
type Progress struct {
	Stored int `json:"stored"`
	Total  int `json:"total"`
}

// JobsResponse is the body of GET /jobs/?ids_only=1.
type JobsResponse struct {
	Count   int      `json:"count"`
	Results []JobRef `json:"results"`
}
