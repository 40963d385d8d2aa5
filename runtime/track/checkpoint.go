package track

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// OutputQuery addresses a recorded output of a finetune whose output
// directory is Out: its checkpoint at Step (checkpoint-Step), or its
// final output when Step is 0; from run Run (an id or a unique prefix),
// or from the latest succeeded run that recorded it when Run is "".
type OutputQuery struct {
	Out  string
	Step int64
	Run  string
}

// dir returns the directory the query's files are in.
func (q OutputQuery) dir() string {
	if q.Step > 0 {
		return filepath.Join(q.Out, "checkpoint-"+strconv.FormatInt(q.Step, 10))
	}
	return q.Out
}

// holds reports whether the record r is one of the query's files.
func (q OutputQuery) holds(r FileRecord) bool {
	if r.Step != q.Step {
		return false
	}
	if q.Step > 0 {
		return strings.HasPrefix(r.Path, q.dir()+string(filepath.Separator))
	}
	return filepath.Dir(r.Path) == q.Out
}

// what names the query in messages.
func (q OutputQuery) what() string {
	if q.Step > 0 {
		return fmt.Sprintf("step %d of %s", q.Step, q.Out)
	}
	return "the final output in " + q.Out
}

// FindOutput returns the directory that holds the output q addresses,
// as recorded in the run records under the track directory root, and the
// run that recorded it. Every recorded file must still be on disk with
// its recorded sha256; a missing or changed file is an error that says
// how to bring it back (`whisperc runs restore ID@STEP`). An address no
// run recorded is an error naming root and the steps that do exist.
func FindOutput(root string, q OutputQuery) (string, *Manifest, error) {
	out, err := filepath.Abs(q.Out)
	if err != nil {
		return "", nil, err
	}
	q.Out = out
	var runs []*Manifest
	if q.Run != "" {
		_, m, err := Find(root, q.Run)
		if err != nil {
			return "", nil, err
		}
		runs = []*Manifest{m}
	} else {
		all, bad := List(root)
		if all == nil && len(bad) > 0 {
			return "", nil, fmt.Errorf("%v; no run has recorded %s there", bad[0], q.what())
		}
		for i := len(all) - 1; i >= 0; i-- {
			if all[i].Status == StatusSucceeded {
				runs = append(runs, all[i])
			}
		}
	}
	for _, m := range runs {
		var recs []FileRecord
		for _, r := range m.Outputs {
			if q.holds(r) {
				recs = append(recs, r)
			}
		}
		if len(recs) == 0 {
			continue
		}
		if err := checkOnDisk(root, m, q, recs); err != nil {
			return "", m, err
		}
		return q.dir(), m, nil
	}
	return "", nil, notRecorded(root, q, runs)
}

// checkOnDisk checks that the recorded files are on disk unchanged.
func checkOnDisk(root string, m *Manifest, q OutputQuery, recs []FileRecord) error {
	h := NewHasher(root)
	ref := m.ID
	if q.Step > 0 {
		ref += "@" + strconv.FormatInt(q.Step, 10)
	}
	for _, r := range recs {
		d, err := h.File(r.Path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("run %s recorded %s, but %s is no longer on disk; bring it back with `whisperc runs restore %s` (when it was versioned) or address another step", m.ID, q.what(), r.Path, ref)
		case err != nil:
			return err
		case d.SHA256 != r.SHA256:
			return fmt.Errorf("run %s recorded %s, but %s has changed since (a later run overwrote it?); bring it back with `whisperc runs restore %s` (when it was versioned) or address a later run", m.ID, q.what(), r.Path, ref)
		}
	}
	return nil
}

// notRecorded explains that no run in runs recorded q, listing what the
// runs did record of the same output directory.
func notRecorded(root string, q OutputQuery, runs []*Manifest) error {
	var have []string
	for _, m := range runs {
		var steps []int64
		for _, r := range m.Outputs {
			sq := OutputQuery{Out: q.Out, Step: r.Step}
			if sq.holds(r) && !slices.Contains(steps, r.Step) {
				steps = append(steps, r.Step)
			}
		}
		if len(steps) == 0 {
			continue
		}
		slices.Sort(steps)
		var s []string
		for _, n := range steps {
			if n == 0 {
				s = append(s, "final")
			} else {
				s = append(s, "step"+strconv.FormatInt(n, 10))
			}
		}
		have = append(have, m.ID+": "+strings.Join(s, ", "))
	}
	which := "no succeeded run"
	if q.Run != "" {
		which = "run " + q.Run
	}
	msg := fmt.Sprintf("%s in track dir %s recorded %s", which, root, q.what())
	if len(have) == 0 {
		return errors.New(msg + ", nor any other output there; run the finetune first")
	}
	if len(have) > 6 {
		have = append(have[:6], fmt.Sprintf("and %d more runs", len(have)-6))
	}
	return errors.New(msg + "; recorded: " + strings.Join(have, "; "))
}
