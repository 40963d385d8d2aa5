package track

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseManifest: any bytes give a manifest or an error, never a panic.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"format_version":"whisperc-run/1","id":"261206-100000-0a11","pipeline":"p","status":"succeeded","started":"2026-12-06T10:00:00Z","sources":[{"path":"p.whisper","sha256":"2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881","text":"x"}]}`))
	f.Add([]byte(`{"format_version":"whisperc-run/1","stages":[{"id":1}]}`))
	f.Add([]byte("{\n  broken"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseManifest(b)
		if err == nil && (m.ID == "" || m.Started.IsZero() || !m.Status.valid()) {
			t.Fatalf("accepted an incomplete manifest: %+v", m)
		}
	})
}

// FuzzReadPoints: metrics.jsonl of any content reads as points or an
// error with a line number, never a panic.
func FuzzReadPoints(f *testing.F) {
	f.Add([]byte(`{"time":"2026-12-06T10:00:10Z","stage":"train.sft","name":"loss","step":1,"value":3}` + "\n"))
	f.Add([]byte(`{"name":"loss","step":1,"value":3}` + "\n" + `{"name":"lo`))
	f.Add([]byte("\n\n{}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, MetricsFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		pts, err := ReadPoints(dir)
		if err == nil {
			for _, p := range pts {
				if p.Name == "" {
					t.Fatal("accepted a point without a name")
				}
			}
			SeriesOf("r", pts, []string{"loss"})
		}
	})
}

// FuzzReadDVCFile: any .dvc content is read or refused, never a panic.
func FuzzReadDVCFile(f *testing.F) {
	f.Add(dvcText(DVCFile{MD5: "0f343b0931126a20f133d67c2b018a3b", Size: 4096, Path: "adapter.bin"}))
	f.Add([]byte("outs:\n- md5: 'x'\n  path: \"a:b\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		name := filepath.Join(t.TempDir(), "f.dvc")
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if d, err := ReadDVCFile(name); err == nil && (len(d.MD5) != 32 || d.Path == "") {
			t.Fatalf("accepted %+v", d)
		}
	})
}

// TestDVCTextRoundTrip: what we write reads back, for awkward names too.
func TestDVCTextRoundTrip(t *testing.T) {
	for _, p := range []string{"adapter.bin", "a: b.bin", "it's #1.bin", " lead"} {
		want := DVCFile{MD5: "0f343b0931126a20f133d67c2b018a3b", Size: 7, Path: p}
		name := filepath.Join(t.TempDir(), "f.dvc")
		os.WriteFile(name, dvcText(want), 0o644)
		if got, err := ReadDVCFile(name); err != nil || got != want {
			t.Errorf("%q: got %+v, %v", p, got, err)
		}
	}
}
