package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/natschaos/natschaos/protocol"
	"github.com/natschaos/natschaos/protocol/ackreply"
)

// resultItem is one validated item of a /result body.
type resultItem struct {
	reply  string
	task   string // image id the result is for
	result json.RawMessage
}

// parseResultItem validates {"reply_subject": "$JS.ACK...", "result": R}
// where R is a success {"pipeline": "...", "source_images": [{"id", "url"}],
// "detections": [...], "total_time": s} (detections and total_time optional
// but typed) or an error {"error": "...", "image_id": "..."}. The reply
// subject must be a JetStream ack subject: the processor publishes to it.
func parseResultItem(it protocol.ResultItem) (resultItem, error) {
	if it.ReplySubject == nil || *it.ReplySubject == "" {
		return resultItem{}, errors.New("reply_subject is required")
	}
	if _, err := ackreply.Parse(*it.ReplySubject); err != nil {
		return resultItem{}, fmt.Errorf("reply_subject: %v", err)
	}
	if len(it.Result) == 0 || !bytes.HasPrefix(bytes.TrimSpace(it.Result), []byte("{")) {
		return resultItem{}, errors.New("result must be an object")
	}
	var r protocol.Result
	if err := json.Unmarshal(it.Result, &r); err != nil {
		return resultItem{}, fmt.Errorf("result: %v", err)
	}
	out := resultItem{reply: *it.ReplySubject, result: it.Result}
	if r.Error != nil {
		out.task, _ = protocol.IDString(r.ImageID)
		if out.task == "" {
			return resultItem{}, errors.New("an error result needs image_id")
		}
		return out, nil
	}
	if r.Pipeline == nil || *r.Pipeline == "" {
		return resultItem{}, errors.New("a result needs pipeline (or error and image_id)")
	}
	if len(r.SourceImages) == 0 {
		return resultItem{}, errors.New("source_images must not be empty")
	}
	out.task, _ = protocol.IDString(r.SourceImages[0].ID)
	if out.task == "" {
		return resultItem{}, errors.New("source_images[0].id is required")
	}
	if len(r.Detections) > 0 && !bytes.HasPrefix(bytes.TrimSpace(r.Detections), []byte("[")) {
		return resultItem{}, errors.New("detections must be a list")
	}
	if len(r.TotalTime) > 0 {
		var f float64
		if err := json.Unmarshal(r.TotalTime, &f); err != nil {
			return resultItem{}, errors.New("total_time must be a number")
		}
	}
	return out, nil
}
