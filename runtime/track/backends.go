package track

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/modelwhisperer/whisperc/compiler"
)

// MetricsFile is the name of the run's own metric log, written for every
// run whatever the backend: `whisperc runs` reads it.
const MetricsFile = "metrics.jsonl"

// appendFile is a file records are appended to.
type appendFile interface {
	io.Writer
	Truncate(size int64) error
	Sync() error
	Close() error
}

func createAppend(name string) (appendFile, error) {
	return os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
}

// recordWriter appends whole records: each record is one Write, and a
// write that fails half-way (a full disk) is cut back to the last whole
// record, so that the file stays readable.
type recordWriter struct {
	f    appendFile
	name string
	off  int64
}

func (w *recordWriter) write(b []byte) error {
	n, err := w.f.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		if n > 0 {
			if terr := w.f.Truncate(w.off); terr != nil {
				return fmt.Errorf("writing %s: %w; cutting off the partial record also failed (%v): the last line is incomplete", w.name, err, terr)
			}
		}
		return fmt.Errorf("writing %s: %w", w.name, err)
	}
	w.off += int64(n)
	return nil
}

func (w *recordWriter) close() error {
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("closing %s: %w", w.name, err)
	}
	return nil
}

// jsonlBackend writes one JSON object per metric value.
type jsonlBackend struct{ w *recordWriter }

func (b *jsonlBackend) metric(p Point) error {
	line, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return b.w.write(append(line, '\n'))
}

func (b *jsonlBackend) finish(*Manifest) error { return b.w.close() }

// openBackends opens metrics.jsonl and the track block's backends.
func (r *Run) openBackends() error {
	f, err := r.opts.create(filepath.Join(r.Dir, MetricsFile))
	if err != nil {
		return err
	}
	r.backends = append(r.backends, &jsonlBackend{w: &recordWriter{f: f, name: filepath.Join(r.Dir, MetricsFile)}})
	r.m.Backends = append(r.m.Backends, "jsonl")
	for _, be := range r.prog.Track.Backends {
		switch be {
		case compiler.BackendJSONL:
			// metrics.jsonl, opened above
		case compiler.BackendTensorBoard:
			tb, err := openTensorBoard(r)
			if err != nil {
				return err
			}
			r.backends = append(r.backends, tb)
			r.m.Backends = append(r.m.Backends, "tensorboard")
		case compiler.BackendMLflow:
			ml, err := openMLflow(r)
			if err != nil {
				return err
			}
			r.backends = append(r.backends, ml)
			r.m.Backends = append(r.m.Backends, "mlflow")
		default:
			note := fmt.Sprintf("track backend %s is not written by whisperc (it needs an account and a network service); metrics are in %s", be, MetricsFile)
			r.m.Notes = append(r.m.Notes, note)
			r.Report = append(r.Report, note)
		}
	}
	return nil
}
