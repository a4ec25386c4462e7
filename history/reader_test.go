package history

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func readAll(t testing.TB, s string) ([]Event, *Reader, error) {
	t.Helper()
	r := NewReader(strings.NewReader(s))
	var events []Event
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return events, r, nil
		}
		if err != nil {
			return events, r, err
		}
		events = append(events, e)
	}
}

func TestReaderTornLastLine(t *testing.T) {
	in := `{"t":1,"kind":"phase","name":"warmup"}` + "\n" + `{"t":2,"kind":"publish","task":"a","sseq":1}` + "\n" + `{"t":3,"kind":"pub`
	events, r, err := readAll(t, in)
	require.NoError(t, err)
	require.Len(t, events, 2)
	require.Len(t, r.Warnings(), 1)
	require.Contains(t, r.Warnings()[0], "line 3")
	require.Contains(t, r.Warnings()[0], "torn last line")
}

func TestReaderLastLineWithoutNewline(t *testing.T) {
	// A whole object without its newline is an event, not a torn line.
	events, r, err := readAll(t, `{"t":1,"kind":"phase","name":"end"}`)
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Empty(t, r.Warnings())
}

func TestReaderMalformedMiddleLine(t *testing.T) {
	in := `{"t":1,"kind":"phase","name":"warmup"}` + "\n\n" + `{"t":2,"kind":` + "\n" + `{"t":3,"kind":"phase","name":"end"}` + "\n"
	events, _, err := readAll(t, in)
	require.Len(t, events, 1)
	var le *LineError
	require.ErrorAs(t, err, &le)
	require.Equal(t, 3, le.Line, "blank lines count")
	require.True(t, errors.Is(err, ErrSyntax))
	require.Contains(t, err.Error(), "line 3")

	// A malformed line ending with a newline is an error even when last.
	_, _, err = readAll(t, `{"t":1}`+"\n"+`garbage`+"\n")
	require.ErrorAs(t, err, &le)
	require.Equal(t, 2, le.Line)
}

func TestReaderIgnoresUnknownAndBlank(t *testing.T) {
	in := "\n   \n" +
		`{"t":1,"kind":"new-kind","nested":{"a":[1,2,{"b":null}]},"list":[{"x":"}"}]}` + "\r\n" +
		"\t\n" +
		`{"t":2,"kind":"handout","task":"a","extra":{"deep":{"deeper":true}},"dc":1}` + "\n"
	events, r, err := readAll(t, in)
	require.NoError(t, err)
	require.Empty(t, r.Warnings())
	require.Equal(t, []Event{{T: 1, Kind: "new-kind"}, {T: 2, Kind: KindHandout, Task: "a", DC: 1}}, events)
	require.Equal(t, 5, r.Line())
}

func TestReaderLongLine(t *testing.T) {
	long := strings.Repeat("x", 600<<10) // longer than the reader's buffer
	in := `{"t":1,"kind":"stored","task":"` + long + `"}` + "\n" + `{"t":2,"kind":"phase","name":"end"}` + "\n"
	events, _, err := readAll(t, in)
	require.NoError(t, err)
	require.Len(t, events, 2)
	require.Equal(t, long, events[0].Task)
	require.Equal(t, "end", events[1].Name)
}

// A line over MaxLine is a LineError naming the file and the line, found
// without reading the line whole; one of exactly MaxLine bytes is read.
func TestReaderLineTooLong(t *testing.T) {
	head := `{"t":1,"kind":"phase","name":"warmup"}` + "\n"
	exact := `{"t":2,"kind":"stored","task":"` + strings.Repeat("x", MaxLine-len(`{"t":2,"kind":"stored","task":""}`)) + `"}`
	require.Len(t, exact, MaxLine)
	events, _, err := readAll(t, head+exact+"\n")
	require.NoError(t, err)
	require.Len(t, events, 2)

	for name, tail := range map[string]string{"with newline": "\n", "last line": ""} {
		t.Run(name, func(t *testing.T) {
			over := `{"t":2,"kind":"stored","task":"` + strings.Repeat("x", MaxLine) + `"}` + tail
			_, _, err := readAll(t, head+over)
			var le *LineError
			require.ErrorAs(t, err, &le)
			require.Equal(t, 2, le.Line)
			require.ErrorIs(t, err, ErrLineTooLong)
		})
	}

	// Through Each, the error names the file: file:line: what.
	path := filepath.Join(t.TempDir(), "long.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(head+strings.Repeat(" ", 3*MaxLine)+"\n"), 0o600))
	_, _, err = Load(path)
	require.EqualError(t, err, path+":2: line longer than 1 MiB")
}

// Sequence numbers up to the largest uint64 decode as they are: a
// long-lived stream's sequences are not bounded by the run.
func TestReaderHugeSequences(t *testing.T) {
	in := `{"t":1,"kind":"handout","task":"a","sseq":2147483648,"dseq":18446744073709551615,"dc":2147483648}` + "\n" +
		`{"t":2,"kind":"consumer","delivered":9223372036854775808}` + "\n"
	events, _, err := readAll(t, in)
	require.NoError(t, err)
	require.Equal(t, uint64(1)<<31, events[0].SSeq)
	require.Equal(t, ^uint64(0), events[0].DSeq)
	require.Equal(t, 1<<31, events[0].DC)
	require.Equal(t, uint64(1)<<63, events[1].Delivered)

	// One past the largest uint64 is refused, naming the line.
	_, _, err = readAll(t, in+`{"t":3,"kind":"handout","dseq":18446744073709551616}`+"\n")
	var le *LineError
	require.ErrorAs(t, err, &le)
	require.Equal(t, 3, le.Line)
}

func TestRecorderThenLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	rec, err := Create(path, time.Now())
	require.NoError(t, err)
	for _, e := range samples {
		rec.Emit(e)
	}
	require.NoError(t, rec.Close())
	require.Equal(t, len(samples), rec.Count())

	events, warnings, err := Load(path)
	require.NoError(t, err)
	require.Empty(t, warnings)
	require.Equal(t, samples, events)

	// A run killed while writing: the torn line is skipped with a warning.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"t":9,"kind":"sto`)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	events, warnings, err = Load(path)
	require.NoError(t, err)
	require.Len(t, events, len(samples))
	require.Len(t, warnings, 1)

	_, _, err = Load(filepath.Join(t.TempDir(), "missing.jsonl"))
	require.Error(t, err)
}

// FuzzReader: the reader never panics, and a history that reads without
// error re-encodes to one that reads back to the same events.
func FuzzReader(f *testing.F) {
	var b bytes.Buffer
	for _, e := range samples {
		b.Write(e.AppendJSON(nil))
		b.WriteByte('\n')
	}
	f.Add(b.Bytes())
	f.Add([]byte("\n\n{\"t\":1}\n{\"t\":2,\"kind\":\"x\",\"y\":{}}\r\n{\"t\":3,\"ki"))
	f.Add([]byte("{\"t\":1}\ngarbage\n{\"t\":2}"))
	f.Add([]byte("{\"t\":1,\"kind\":\"handout\",\"sseq\":2147483648,\"dseq\":18446744073709551615,\"dc\":2147483648}\n{\"kind\":\"consumer\",\"delivered\":9223372036854775808}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		events, _, err := readAll(t, string(data))
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) || le.Line < 1 {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		var out bytes.Buffer
		for i := range events {
			out.Write(events[i].AppendJSON(nil))
			out.WriteByte('\n')
		}
		again, r, err := readAll(t, out.String())
		if err != nil || len(r.Warnings()) > 0 {
			t.Fatalf("re-read: %v %v", err, r.Warnings())
		}
		if len(again) != len(events) {
			t.Fatalf("re-read %d events, want %d", len(again), len(events))
		}
		for i := range again {
			if !bytes.Equal(again[i].AppendJSON(nil), events[i].AppendJSON(nil)) {
				t.Fatalf("event %d unstable", i)
			}
		}
	})
}

func TestMemoryStampsAndFilters(t *testing.T) {
	m := NewMemory()
	m.Emit(Event{Kind: KindPublish, Task: "a"})
	m.Emit(Event{T: 7, Kind: KindStored, Task: "a"})
	m.Emit(Event{Kind: KindPublish, Task: "b"})
	require.Len(t, m.Events(), 3)
	pubs := m.Of(KindPublish)
	require.Len(t, pubs, 2)
	require.Equal(t, "b", pubs[1].Task)
	require.Positive(t, pubs[0].T, "an event without a time is stamped")
	require.Equal(t, 7.0, m.Of(KindStored)[0].T, "an event's own time is kept")
}
