package diag

import (
	"bytes"
	"encoding/json"
	"flag"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/modelwhisperer/whisperc/lang/golden"
	"github.com/modelwhisperer/whisperc/lang/source"
)

var update = flag.Bool("update", false, "rewrite golden files")

func sample() (*source.File, Diagnostics) {
	src := "finetune sft {\n\tlora {\n\t\trank = 64 // too big\n\t}\n  prompt = \"日本語\" + oops\n}\n"
	f := source.NewFile("sft.whisper", []byte(src))
	rankAt := bytes.Index(f.Src, []byte("64"))
	oopsAt := bytes.Index(f.Src, []byte("oops"))
	ds := Diagnostics{
		Errorf(f.Range(oopsAt, oopsAt+4), "E201", "Unknown reference oops", "No declaration named \"oops\" exists. Declare it, or fix the name."),
		{
			Severity: Warning, Code: "ML003", Summary: "LoRA rank 64 is outside 16-32",
			Detail:     "Ranks above 32 rarely improve quality and cost memory. Use rank = 16 or 32.",
			Subject:    ptr(f.Range(rankAt, rankAt+2)),
			Notes:      []Note{{Range: f.Range(0, 8), Message: "in this finetune"}},
			Suggestion: &Suggestion{Message: "use", Range: f.Range(rankAt, rankAt+2), Replacement: "16"},
		},
		{Severity: Error, Code: "E900", Summary: "No position"},
	}
	return f, ds
}

func ptr(r source.Range) *source.Range { return &r }

func TestText(t *testing.T) {
	f, ds := sample()
	got := Text(FileMap{f.Name: f}, ds.Sorted())
	golden.Compare(t, filepath.Join("testdata", "render.txt"), got, *update)
}

func TestSortedDedup(t *testing.T) {
	_, ds := sample()
	dup := *ds[0]
	ds = append(ds, &dup, nil)
	got := ds.Sorted()
	var codes []string
	for _, d := range got {
		codes = append(codes, d.Code)
	}
	if diff := cmp.Diff([]string{"ML003", "E201", "E900"}, codes); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if !got.HasErrors() || got.Count(Warning) != 1 || len(got.Errs()) != 2 {
		t.Errorf("counts wrong: %v", got)
	}
}

func TestJSON(t *testing.T) {
	_, ds := sample()
	var b bytes.Buffer
	if err := WriteJSON(&b, ds.Sorted()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Valid       bool `json:"valid"`
		ErrorCount  int  `json:"error_count"`
		Diagnostics []struct {
			Severity string `json:"severity"`
			Code     string `json:"code"`
			Range    *struct {
				Filename string `json:"filename"`
				Start    struct{ Line, Column, Byte int }
			} `json:"range"`
		} `json:"diagnostics"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Valid || doc.ErrorCount != 2 || len(doc.Diagnostics) != 3 {
		t.Fatalf("doc = %+v", doc)
	}
	d := doc.Diagnostics[0]
	if d.Severity != "warning" || d.Code != "ML003" || d.Range.Filename != "sft.whisper" || d.Range.Start.Line != 3 || d.Range.Start.Column != 10 {
		t.Errorf("first diagnostic = %+v %+v", d, d.Range)
	}
	if doc.Diagnostics[2].Range != nil {
		t.Errorf("a diagnostic without subject must have no range")
	}
	var empty bytes.Buffer
	_ = WriteJSON(&empty, nil)
	if !bytes.Contains(empty.Bytes(), []byte(`"diagnostics": []`)) {
		t.Errorf("empty output must list [] diagnostics: %s", empty.String())
	}
}

func TestSeverityText(t *testing.T) {
	for _, s := range []Severity{Error, Warning, Info} {
		b, _ := s.MarshalText()
		var back Severity
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("round trip %v: %v %v", s, back, err)
		}
	}
	var s Severity
	if s.String() != "invalid" || s.UnmarshalText([]byte("fatal")) == nil {
		t.Error("zero severity must be invalid and unknown names rejected")
	}
}
