package protocol

import (
	"encoding/json"
	"fmt"
)

// ID is a task or image id: a JSON string, or a number read as a string
// (ids are strings in the task payload, but a number must not break a
// reader). JSON null reads as "".
type ID string

// UnmarshalJSON reads a string, a number or null; anything else is an error.
func (id *ID) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*id = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = ID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("id %s: not a string or a number", b)
	}
	*id = ID(n.String())
	return nil
}

// IDString reads an id that is a JSON string or number as a string; false
// when raw is neither, or is the empty string.
func IDString(raw json.RawMessage) (string, bool) {
	var id ID
	if len(raw) == 0 || id.UnmarshalJSON(raw) != nil || id == "" {
		return "", false
	}
	return string(id), true
}

// Task is one task: its payload as published into the job's stream
// (ReplySubject null) and an item of a /tasks response (ReplySubject the
// $JS.ACK subject of the delivery).
type Task struct {
	ID           ID      `json:"id"`
	ImageID      ID      `json:"image_id"`
	ImageURL     string  `json:"image_url"`
	ReplySubject *string `json:"reply_subject"`
}

// Image is the task's id in a history: its image_id, or its id when it
// has none.
func (t Task) Image() string {
	if t.ImageID != "" {
		return string(t.ImageID)
	}
	return string(t.ID)
}

// Reply is the task's reply subject, "" when it has none.
func (t Task) Reply() string {
	if t.ReplySubject == nil {
		return ""
	}
	return *t.ReplySubject
}

// TasksRequest is the body of POST /jobs/{id}/tasks/.
type TasksRequest struct {
	BatchSize int `json:"batch_size"`
}

// TasksResponse is the body of a 200 answer to POST /jobs/{id}/tasks/.
type TasksResponse struct {
	Tasks []Task `json:"tasks"`
}

// ResultRequest is the body of POST /jobs/{id}/result/.
type ResultRequest struct {
	Results []ResultItem `json:"results"`
}

// ResultItem is one item of a [ResultRequest]: the delivery it answers and
// its [Result], kept raw so that a reader can validate it.
type ResultItem struct {
	ReplySubject *string         `json:"reply_subject"`
	Result       json.RawMessage `json:"result"`
}

// Result is the result of one task, as a reader sees it: a success
// (Pipeline, SourceImages, optional Detections and TotalTime) or an error
// (Error, ImageID). Fields that must be typed are kept raw so that a
// reader can tell a missing field from a malformed one; a writer builds a
// success with [SuccessResult].
type Result struct {
	Error        *string         `json:"error,omitempty"`
	ImageID      json.RawMessage `json:"image_id,omitempty"`
	Pipeline     *string         `json:"pipeline,omitempty"`
	SourceImages []SourceImage   `json:"source_images,omitempty"`
	Detections   json.RawMessage `json:"detections,omitempty"`
	TotalTime    json.RawMessage `json:"total_time,omitempty"`
}

// SourceImage names the image a success result is for.
type SourceImage struct {
	ID  json.RawMessage `json:"id"`
	URL string          `json:"url"`
}

// SuccessResult is the body of a success [Result] for image id at url of
// pipeline, with no detections, that took totalTime seconds.
func SuccessResult(pipeline, id, url string, totalTime float64) (json.RawMessage, error) {
	rawID, err := json.Marshal(id)
	if err != nil {
		return nil, fmt.Errorf("encode image id %q: %w", id, err)
	}
	rawTime, err := json.Marshal(totalTime)
	if err != nil {
		return nil, fmt.Errorf("encode total_time %v: %w", totalTime, err)
	}
	b, err := json.Marshal(Result{
		Pipeline:     &pipeline,
		SourceImages: []SourceImage{{ID: rawID, URL: url}},
		Detections:   json.RawMessage("[]"),
		TotalTime:    rawTime,
	})
	if err != nil {
		return nil, fmt.Errorf("encode result of %s: %w", id, err)
	}
	return b, nil
}

// ResultResponse is the body of a 200 answer to POST /jobs/{id}/result/:
// every item was queued for the result processor.
type ResultResponse struct {
	Status        string         `json:"status"` // "accepted"
	JobID         int64          `json:"job_id"`
	ResultsQueued int            `json:"results_queued"`
	Tasks         []QueuedResult `json:"tasks"`
}

// QueuedResult is one item of a [ResultResponse].
type QueuedResult struct {
	ReplySubject string `json:"reply_subject"`
	Status       string `json:"status"` // "queued"
	TaskID       string `json:"task_id"`
}
