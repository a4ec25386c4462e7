package history_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/natschaos/natschaos/history"
)

func segEvents(n int) []history.Event {
	out := make([]history.Event, n)
	for i := range out {
		out[i] = history.Event{T: float64(i+1) / 10, Kind: history.KindPublish, Task: "1-" + string(rune('a'+i%26)), SSeq: uint64(i + 1)}
	}
	return out
}

// createSegments starts a segmented history in dir.
func createSegments(t *testing.T, dir string) *history.Recorder {
	t.Helper()
	rec, err := history.CreateSegments(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func readAll(t *testing.T, path string) ([]history.Event, []string) {
	t.Helper()
	var got []history.Event
	warn, err := history.Each(path, func(e history.Event) error { got = append(got, e); return nil })
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return got, warn
}

func sameEvents(t *testing.T, got, want []history.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d events, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("event %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

// Rotated, compressed segments read back as one history, in order, from
// the directory; one segment reads back alone; a plain .jsonl too.
func TestSegmentsReadBack(t *testing.T) {
	dir := t.TempDir()
	rec := createSegments(t, dir)
	want := segEvents(300)
	for i, e := range want {
		if i == 100 || i == 200 {
			n, err := rec.Rotate()
			if err != nil || n != i/100+1 {
				t.Fatalf("rotate: segment %d, %v", n, err)
			}
		}
		rec.Emit(e)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	got, warn := readAll(t, dir)
	sameEvents(t, got, want)
	if len(warn) != 0 {
		t.Errorf("warnings: %v", warn)
	}
	one, _ := readAll(t, filepath.Join(dir, history.SegmentName(2)))
	sameEvents(t, one, want[100:200])

	plain := filepath.Join(t.TempDir(), "history.jsonl")
	prec, err := history.Create(plain, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range want {
		prec.Emit(e)
	}
	if err := prec.Close(); err != nil {
		t.Fatal(err)
	}
	p, _ := readAll(t, plain)
	sameEvents(t, p, want)
}

// A segment that was flushed but never closed (the process was killed)
// still reads back up to its last flush.
func TestSegmentsKilled(t *testing.T) {
	dir := t.TempDir()
	rec := createSegments(t, dir)
	want := segEvents(50)
	for _, e := range want {
		rec.Emit(e)
	}
	if err := rec.Flush(); err != nil {
		t.Fatal(err)
	}
	// Copy the segment as it is on disk now: what a kill -9 leaves.
	raw, err := os.ReadFile(filepath.Join(dir, history.SegmentName(1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	killed := filepath.Join(t.TempDir(), "history"+history.Compressed)
	if err := os.WriteFile(killed, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	got, _ := readAll(t, killed)
	sameEvents(t, got, want)
}

// An empty directory and a missing path are clear errors.
func TestOpenErrors(t *testing.T) {
	if _, _, err := history.Open(t.TempDir()); err == nil {
		t.Error("an empty directory opened without an error")
	}
	if _, _, err := history.Open(filepath.Join(t.TempDir(), "nope.jsonl")); err == nil {
		t.Error("a missing file opened without an error")
	}
}

// A segment written by something other than CreateSegments cannot rotate.
func TestRotatePlain(t *testing.T) {
	rec, err := history.Create(filepath.Join(t.TempDir(), "h.jsonl"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	if _, err := rec.Rotate(); err == nil {
		t.Error("a plain history rotated")
	}
}

// A new segmented history in a directory that held a longer one reads as
// the new one only.
func TestSegmentsReplace(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{3, 1} {
		rec := createSegments(t, dir)
		for i := range n {
			if i > 0 {
				if _, err := rec.Rotate(); err != nil {
					t.Fatal(err)
				}
			}
			rec.Emit(history.Event{T: float64(n), Kind: history.KindPhase, Name: history.PhaseWarmup})
		}
		if err := rec.Close(); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := readAll(t, dir)
	if len(got) != 1 || got[0].T != 1 {
		t.Fatalf("read %+v, want the one event of the second history", got)
	}
}
