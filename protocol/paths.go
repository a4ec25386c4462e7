package protocol

import (
	"strconv"
	"strings"
)

// The worker API's endpoints, as paths under [APIBase] (docs/protocol.md).
// Clients build them here; the reference API's router spells the same
// paths as patterns, and its tests call it through these.

// JobsPath lists jobs (GET) and creates one (POST).
const JobsPath = "/jobs/"

// JobPath reads job id: "/jobs/<id>/".
func JobPath(id int64) string { return JobsPath + strconv.FormatInt(id, 10) + "/" }

// TasksPath reserves tasks of job id: "/jobs/<id>/tasks/".
func TasksPath(id int64) string { return JobPath(id) + "tasks/" }

// ResultPath posts results of job id: "/jobs/<id>/result/".
func ResultPath(id int64) string { return JobPath(id) + "result/" }

// CancelPath cancels job id: "/jobs/<id>/cancel/".
func CancelPath(id int64) string { return JobPath(id) + "cancel/" }

// IsTasksPath reports whether a request path is a /tasks call. It looks for
// "/tasks" anywhere, not for [TasksPath] whole: a platform may mount the API
// elsewhere or leave off the trailing slash, and a proxy records the path as
// the worker sent it.
func IsTasksPath(path string) bool { return strings.Contains(path, "/tasks") }

// IsResultPath reports, in the same way, whether a request path is a
// /result call.
func IsResultPath(path string) bool { return strings.Contains(path, "/result") }

// JobOfPath is the job id of an API path ".../jobs/<id>/..."; false when
// the path names no job.
func JobOfPath(path string) (int64, bool) {
	_, rest, ok := strings.Cut(path, JobsPath)
	if !ok {
		return 0, false
	}
	id, _, _ := strings.Cut(rest, "/")
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil
}
