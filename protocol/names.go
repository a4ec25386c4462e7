package protocol

import (
	"strconv"
	"strings"
)

// StreamPrefix starts the name of every job's stream ("job_<id>").
const StreamPrefix = "job_"

// TaskSubjects matches the task subject of every job (see [TaskSubject]).
const TaskSubjects = "job.*.tasks"

// AdvisoryStream is the stream that keeps JetStream advisories for
// dead-letter accounting; every job shares it.
const AdvisoryStream = "advisories"

// StreamName is the JetStream stream of job id: "job_<id>".
func StreamName(id int64) string { return StreamPrefix + strconv.FormatInt(id, 10) }

// ConsumerName is the durable pull consumer of job id: "job-<id>-consumer".
func ConsumerName(id int64) string { return "job-" + strconv.FormatInt(id, 10) + "-consumer" }

// TaskSubject is the subject the tasks of job id are published on:
// "job.<id>.tasks".
func TaskSubject(id int64) string { return "job." + strconv.FormatInt(id, 10) + ".tasks" }

// JobOfStream is the job whose stream is named stream; false when stream
// is not a job's stream.
func JobOfStream(stream string) (int64, bool) {
	id, ok := strings.CutPrefix(stream, StreamPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil
}

// WorkerHeader is the request header a worker names itself with on every
// call; the API marks the worker seen, the observers record it.
const WorkerHeader = "X-Natschaos-Worker"

// APIBase is the path every API endpoint is under (GET APIBase+"/" is the
// API's NATS-free root).
const APIBase = "/api/v2"

// AuthHeader carries the API key as TokenPrefix + key.
const (
	AuthHeader  = "Authorization"
	TokenPrefix = "Token "
)
