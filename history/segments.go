package history

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Compressed is the suffix of a zstd-compressed history.
const Compressed = ".jsonl.zst"

// SegmentName is the file name of the n-th (1-based) segment of a rotated,
// compressed history: history-0001.jsonl.zst, …
func SegmentName(n int) string { return fmt.Sprintf("history-%04d%s", n, Compressed) }

// segments is the writer behind a Recorder made by [CreateSegments]: zstd
// frames into the current segment file of dir, a new file at each Rotate.
type segments struct {
	dir  string
	n    int
	f    *os.File
	enc  *zstd.Encoder
	open bool
}

func (s *segments) next() error {
	s.n++
	f, err := os.Create(filepath.Join(s.dir, SegmentName(s.n)))
	if err != nil {
		return fmt.Errorf("create history segment: %w", err)
	}
	if s.enc == nil {
		// One goroutine and a 1 MiB window: the encoder's memory stays
		// small and flat however long the history grows.
		s.enc, err = zstd.NewWriter(f, zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))
		if err != nil {
			f.Close()
			return fmt.Errorf("zstd encoder: %w", err)
		}
	} else {
		s.enc.Reset(f)
	}
	s.f, s.open = f, true
	return nil
}

func (s *segments) Write(p []byte) (int, error) { return s.enc.Write(p) }

// flush ends the current zstd block so that what was written so far can be
// read back, also by a reader of a soak that is killed later.
func (s *segments) flush() error { return s.enc.Flush() }

func (s *segments) closeSegment() error {
	if !s.open {
		return nil
	}
	s.open = false
	err := s.enc.Close()
	if cerr := s.f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close history segment %d: %w", s.n, err)
	}
	return nil
}

func (s *segments) rotate() error {
	if err := s.closeSegment(); err != nil {
		return err
	}
	return s.next()
}

func (s *segments) Close() error { return s.closeSegment() }

// CreateSegments returns a Recorder that writes a zstd-compressed history
// into dir, starting with segment 1; [Recorder.Rotate] starts the next one.
// dir is created; the segments of an earlier history in it are removed
// (as Create truncates), so that the directory reads as this history only.
func CreateSegments(dir string, start time.Time) (*Recorder, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("history directory: %w", err)
	}
	old, err := filepath.Glob(filepath.Join(dir, "history-*"+Compressed))
	if err != nil {
		return nil, fmt.Errorf("history directory: %w", err)
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return nil, fmt.Errorf("history directory: %w", err)
		}
	}
	s := &segments{dir: dir}
	if err := s.next(); err != nil {
		return nil, err
	}
	r := NewRecorder(s, start)
	return r, nil
}

// Rotate flushes what is buffered and starts the next segment of a
// Recorder made by [CreateSegments]; it returns the number of the new
// segment. On any other Recorder it is an error.
func (r *Recorder) Rotate() (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.under.(*segments)
	if !ok {
		return 0, errors.New("rotate history: not a segmented history")
	}
	if r.err != nil {
		return s.n, r.err
	}
	if err := r.w.Flush(); err != nil {
		r.err = fmt.Errorf("flush history: %w", err)
		return s.n, r.err
	}
	if err := s.rotate(); err != nil {
		r.err = err
		return s.n, err
	}
	return s.n, nil
}

// Open opens a history for reading: a .jsonl file, a .jsonl.zst file, or a
// directory of segments (every *.jsonl.zst and *.jsonl in it, in name order,
// read as one history). Close the returned closer when done.
func Open(path string) (*Reader, io.Closer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open history: %w", err)
	}
	var files []string
	if fi.IsDir() {
		ents, err := os.ReadDir(path)
		if err != nil {
			return nil, nil, fmt.Errorf("open history: %w", err)
		}
		for _, e := range ents {
			if !e.IsDir() && (strings.HasSuffix(e.Name(), Compressed) || strings.HasSuffix(e.Name(), ".jsonl")) {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
		if len(files) == 0 {
			return nil, nil, fmt.Errorf("open history: %s: no *.jsonl or *%s segment in the directory", path, Compressed)
		}
		sort.Strings(files)
	} else {
		files = []string{path}
	}
	cat := &concat{files: files}
	return NewReader(cat), cat, nil
}

// concat reads the files of a history one after the other, decompressing
// the .zst ones. A compressed segment cut short (the process was killed
// before it closed the segment) ends where its last whole block ended: the
// Reader then sees a torn last line at worst.
type concat struct {
	files []string
	i     int
	f     *os.File
	dec   *zstd.Decoder
	r     io.Reader
}

func (c *concat) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			if c.i >= len(c.files) {
				return 0, io.EOF
			}
			if err := c.openNext(); err != nil {
				return 0, err
			}
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) || c.dec != nil && errors.Is(err, io.ErrUnexpectedEOF) {
			c.closeCur()
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			return n, fmt.Errorf("%s: %w", c.files[c.i-1], err)
		}
		return n, nil
	}
}

func (c *concat) openNext() error {
	name := c.files[c.i]
	c.i++
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("open history: %w", err)
	}
	c.f, c.r = f, f
	if strings.HasSuffix(name, ".zst") {
		if c.dec == nil {
			if c.dec, err = zstd.NewReader(f, zstd.WithDecoderConcurrency(1)); err != nil {
				f.Close()
				return fmt.Errorf("%s: zstd: %w", name, err)
			}
		} else if err := c.dec.Reset(f); err != nil {
			f.Close()
			return fmt.Errorf("%s: zstd: %w", name, err)
		}
		c.r = c.dec
	}
	return nil
}

func (c *concat) closeCur() {
	if c.f != nil {
		c.f.Close()
	}
	c.f, c.r = nil, nil
}

// Close closes the file being read.
func (c *concat) Close() error {
	c.closeCur()
	if c.dec != nil {
		c.dec.Close()
		c.dec = nil
	}
	return nil
}
