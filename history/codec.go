package history

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The codec is written by hand for two reasons: a kind decides which of its
// zero values are facts worth writing (a consumer sample's num_pending 0, a
// result's status 0), and the checkers read million-event histories, where
// encoding/json's reflection would cost most of the time budget.

// always lists, per kind, the keys written even when their value is zero.
var always = map[Kind]map[string]bool{
	KindConfig:   set("ack_wait", "max_deliver", "max_ack_pending", "worker_http_timeout", "connect_timeout"),
	KindResult:   set("status"),
	KindConsumer: set("num_pending", "num_ack_pending", "num_redelivered", "num_waiting", "delivered", "ack_floor"),
	KindServer:   set("connections", "total_connections", "subscriptions", "js_api_total", "slow_consumers"),
	KindHTTP:     set("status", "ms", "n"),
	KindConn:     set("conn"),
	KindContract: set("status", "ms"),
}

// progressKeys are a job event's progress, written together (stored 0 is a
// fact) whenever the writer knows the job's total.
var progressKeys = set("stored", "total")

func set(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// MarshalJSON encodes e as one flat JSON object (see [Event.AppendJSON]).
func (e Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(nil), nil
}

// AppendJSON appends e as one flat JSON object, without a newline, to buf.
// Strings are written when not empty; numbers when not zero, or always for
// the keys a kind must carry.
func (e *Event) AppendJSON(buf []byte) []byte {
	must := always[e.Kind]
	buf = append(buf, `{"t":`...)
	buf = appendFloat(buf, e.T)
	buf = appendStr(buf, "kind", string(e.Kind), true)
	buf = appendF(buf, "ack_wait", e.AckWait, must)
	buf = appendI(buf, "max_deliver", int64(e.MaxDeliver), must)
	buf = appendI(buf, "max_ack_pending", int64(e.MaxAckPending), must)
	buf = appendStr(buf, "stream", e.Stream, false)
	buf = appendStr(buf, "consumer", e.ConsumerName, false)
	buf = appendF(buf, "worker_http_timeout", e.WorkerHTTPTimeout, must)
	buf = appendF(buf, "connect_timeout", e.ConnectTimeout, must)
	buf = appendI(buf, "job", e.Job, must)
	buf = appendStr(buf, "task", e.Task, false)
	buf = appendStr(buf, "reply", e.Reply, false)
	buf = appendU(buf, "sseq", e.SSeq, must)
	buf = appendU(buf, "dseq", e.DSeq, must)
	buf = appendI(buf, "dc", int64(e.DC), must)
	buf = appendStr(buf, "worker", e.Worker, false)
	if e.Kind == KindJob || e.JobStatus != "" {
		buf = appendStr(buf, "status", e.JobStatus, false)
		if e.ProgressTotal != 0 {
			buf = appendI(buf, "stored", int64(e.ProgressStored), progressKeys)
			buf = appendI(buf, "total", int64(e.ProgressTotal), progressKeys)
		}
		buf = appendStr(buf, "pipeline", e.Pipeline, false)
	} else {
		buf = appendI(buf, "status", int64(e.Status), must)
	}
	buf = appendStr(buf, "ack", e.Ack, false)
	buf = appendStr(buf, "type", e.Type, false)
	buf = appendI(buf, "deliveries", int64(e.Deliveries), must)
	buf = appendU(buf, "num_pending", e.NumPending, must)
	buf = appendI(buf, "num_ack_pending", int64(e.NumAckPending), must)
	buf = appendI(buf, "num_redelivered", int64(e.NumRedelivered), must)
	buf = appendI(buf, "num_waiting", int64(e.NumWaiting), must)
	buf = appendU(buf, "delivered", e.Delivered, must)
	buf = appendU(buf, "ack_floor", e.AckFloor, must)
	buf = appendI(buf, "connections", int64(e.Connections), must)
	buf = appendU(buf, "total_connections", e.TotalConnections, must)
	buf = appendU(buf, "subscriptions", e.Subscriptions, must)
	buf = appendU(buf, "js_api_total", e.JSAPITotal, must)
	buf = appendU(buf, "slow_consumers", e.SlowConsumers, must)
	buf = appendU(buf, "mem", e.Mem, must)
	buf = appendStr(buf, "version", e.Version, false)
	buf = appendStr(buf, "path", e.Path, false)
	buf = appendF(buf, "ms", e.MS, must)
	buf = appendStr(buf, "err", e.Err, false)
	buf = appendI(buf, "batch", int64(e.Batch), must)
	buf = appendI(buf, "n", int64(e.N), must)
	buf = appendStr(buf, "want", e.Want, false)
	buf = appendStr(buf, "pipelines", e.Pipelines, false)
	buf = appendStr(buf, "id", e.ID, false)
	buf = appendStr(buf, "name", e.Name, false)
	buf = appendStr(buf, "link", e.Link, false)
	buf = appendStr(buf, "phase", e.Phase, false)
	buf = appendStr(buf, "effects", strings.Join(e.Effects.Names(), ","), false)
	buf = appendU(buf, "conn", e.ConnID, must)
	buf = appendI(buf, "js_api", int64(e.JSAPI), must)
	buf = appendI(buf, "pulls", int64(e.Pulls), must)
	buf = appendI(buf, "acks", int64(e.Acks), must)
	buf = appendI(buf, "msgs", int64(e.Msgs), must)
	buf = appendI(buf, "foreign", int64(e.Foreign), must)
	buf = appendU(buf, "rss", e.RSS, must)
	buf = appendI(buf, "fds", int64(e.FDs), must)
	buf = appendI(buf, "goroutines", int64(e.Goroutines), must)
	return append(buf, '}')
}

func appendKey(buf []byte, k string) []byte {
	buf = append(buf, ',', '"')
	buf = append(buf, k...)
	return append(buf, '"', ':')
}

func appendStr(buf []byte, k, v string, force bool) []byte {
	if v == "" && !force {
		return buf
	}
	return appendString(appendKey(buf, k), v)
}

const hexDigits = "0123456789abcdef"

// appendString appends v as a JSON string. (strconv.Quote is Go syntax, not
// JSON: it writes \x01 and \a, which no JSON reader accepts.) Invalid UTF-8
// becomes U+FFFD, as encoding/json does.
func appendString(buf []byte, v string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(v); {
		c := v[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			buf = append(buf, v[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, v[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, v[start:]...)
	return append(buf, '"')
}

func appendI(buf []byte, k string, v int64, must map[string]bool) []byte {
	if v == 0 && !must[k] {
		return buf
	}
	return strconv.AppendInt(appendKey(buf, k), v, 10)
}

func appendU(buf []byte, k string, v uint64, must map[string]bool) []byte {
	if v == 0 && !must[k] {
		return buf
	}
	return strconv.AppendUint(appendKey(buf, k), v, 10)
}

func appendF(buf []byte, k string, v float64, must map[string]bool) []byte {
	if v == 0 && !must[k] {
		return buf
	}
	return appendFloat(appendKey(buf, k), v)
}

func appendFloat(buf []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0 // JSON has no NaN; a sample that cannot be measured is omitted upstream
	}
	// As encoding/json: plain decimals, exponents only for the very small
	// and the very large.
	if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.AppendFloat(buf, v, 'e', -1, 64)
	}
	return strconv.AppendFloat(buf, v, 'f', -1, 64)
}
