package track

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelwhisperer/whisperc/planner"
)

// requireTool returns the path of an outside checker, or skips the test;
// under CI (WHISPERC_CI set, as .ci/run does) a missing checker fails it.
func requireTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil && len(args) > 0 {
		if out, cerr := exec.Command(p, args...).CombinedOutput(); cerr != nil {
			err = &exec.Error{Name: name + " " + strings.Join(args, " "), Err: cerr}
			t.Logf("%s", out)
		}
	}
	if err != nil {
		if os.Getenv("WHISPERC_CI") != "" {
			t.Fatalf("%s is needed to check the tracking formats: %v", name, err)
		}
		t.Skipf("%s is not available (%v); .ci/run installs it", name, err)
	}
	return p
}

// record runs a small fake training stage through a Run: per-step loss,
// a checkpoint at step 2 and a final one.
func record(t *testing.T, r *Run, ckptDir string) {
	t.Helper()
	at := time.Now()
	st := stage("train.sft", planner.StageTrain)
	r.StageStarted(st, at)
	for step := int64(1); step <= 4; step++ {
		for _, p := range []Point{{Name: "loss", Value: 4 / float64(step)}, {Name: "lr", Value: 1e-3}, {Name: "step_seconds", Value: 0.1}} {
			p.Stage, p.Step, p.Time = st.ID, step, at.Add(time.Duration(step)*time.Second)
			if err := r.Metric(p); err != nil {
				t.Fatal(err)
			}
		}
		if step == 2 || step == 4 {
			name := filepath.Join(ckptDir, "step"+string(rune('0'+step)), "adapter.bin")
			os.MkdirAll(filepath.Dir(name), 0o755)
			if err := os.WriteFile(name, bytes.Repeat([]byte{byte(step)}, 4096), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := r.Output(st.ID, "checkpoint", name, step); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.Metric(Point{Stage: "generate.g", Name: "tokens_per_second", Step: -1, Value: 123.5, Time: at})
	r.StageFinished(st, nil, at.Add(5*time.Second))
	if err := r.Finish(nil, at.Add(6*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// TestIndependentReaders writes runs with each backend and DVC versioning
// and checks them with testdata/read_formats.py, a reader that shares no
// code with the writers (python3-protobuf, python3-yaml).
func TestIndependentReaders(t *testing.T) {
	py := requireTool(t, "/usr/bin/python3", "-c", "import google.protobuf, yaml")
	reader, err := filepath.Abs("testdata/read_formats.py")
	if err != nil {
		t.Fatal(err)
	}
	for _, backend := range []string{"tensorboard", "mlflow", "jsonl", "[tensorboard, mlflow, jsonl]"} {
		t.Run(backend, func(t *testing.T) {
			prog, dir := pipeline(t, "track {\n  backend = "+backend+"\n  project = \"demo's\"\n}\n\nversion {\n  data        = dvc\n  checkpoints = dvc\n}", "")
			if err := os.Mkdir(filepath.Join(dir, ".dvc"), 0o755); err != nil { // a DVC repository
				t.Fatal(err)
			}
			// Two runs, so that the MLflow experiment is found again.
			for i := 0; i < 2; i++ {
				r, err := Start(context.Background(), prog, nil, Options{Version: "test"})
				if err != nil {
					t.Fatal(err)
				}
				record(t, r, filepath.Join(dir, "out"))
				out, err := exec.Command(py, reader, r.Dir).CombinedOutput()
				if err != nil {
					t.Fatalf("independent reader rejects run %d:\n%s", i, out)
				}
				t.Logf("%s", out)
			}
			if strings.Contains(backend, "mlflow") {
				exps, _ := filepath.Glob(filepath.Join(dir, "runs", "mlruns", "[0-9]*"))
				if len(exps) != 2 { // Default and demo's
					t.Errorf("experiments: %v", exps)
				}
			}
		})
	}
}

// TestDVCRestore removes a DVC-versioned checkpoint and brings it back
// from the cache, by run id and step.
func TestDVCRestore(t *testing.T) {
	prog, dir := pipeline(t, "track {\n  backend = jsonl\n}\n\nversion {\n  data = dvc\n  checkpoints = dvc\n}", "")
	os.Mkdir(filepath.Join(dir, ".dvc"), 0o755)
	r, err := Start(context.Background(), prog, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	record(t, r, filepath.Join(dir, "out"))
	m := r.Manifest()
	ck := filepath.Join(dir, "out", "step2", "adapter.bin")
	want, _ := os.ReadFile(ck)
	dvcf, err := ReadDVCFile(ck + ".dvc")
	if err != nil || dvcf.MD5 != md5Hex(string(want)) || dvcf.Size != 4096 || dvcf.Path != "adapter.bin" {
		t.Fatalf("dvc file %+v, %v", dvcf, err)
	}
	if ign, _ := os.ReadFile(filepath.Join(dir, "out", "step2", ".gitignore")); string(ign) != "/adapter.bin\n" {
		t.Errorf(".gitignore = %q", ign)
	}
	if err := os.Remove(ck); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "runs")
	rs, err := Restore(root, m.ID+"@2")
	if err != nil || len(rs) != 1 || rs[0].Action != "restored" {
		t.Fatalf("restore: %+v, %v", rs, err)
	}
	if got, _ := os.ReadFile(ck); !bytes.Equal(got, want) {
		t.Error("restored content differs")
	}
	if rs, err := Restore(root, m.ID+"@2"); err != nil || rs[0].Action != "present" {
		t.Errorf("second restore: %+v, %v", rs, err)
	}
	if _, err := Restore(root, m.ID+"@3"); err == nil || !strings.Contains(err.Error(), "steps 2, 4") {
		t.Errorf("missing step: %v", err)
	}
	// A corrupt cache is refused, not copied.
	os.Remove(ck)
	cache := DVCCachePath(dir, dvcf.MD5)
	os.Chmod(cache, 0o644)
	os.WriteFile(cache, bytes.Repeat([]byte{9}, 4096), 0o644)
	if _, err := Restore(root, m.ID+"@2"); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("corrupt cache: %v", err)
	}
	if _, err := os.Stat(ck); err == nil {
		t.Error("a corrupt copy was restored")
	}
}

// TestGitLFS versions checkpoints with git-lfs in a real repository and
// has Debian's git-lfs check the result: `git lfs pointer --check`
// accepts our pointer, it equals the one git-lfs computes, `git lfs
// ls-files` lists the committed checkpoint with our oid and `git lfs
// fsck` finds the object we stored. The manifest records the commit.
func TestGitLFS(t *testing.T) {
	gitBin := requireTool(t, "git", "--version")
	requireTool(t, "git", "lfs", "version")
	prog, dir := pipeline(t, "track {\n  backend = jsonl\n  dir = \"runs\"\n}\n\nversion {\n  data = none\n  checkpoints = git_lfs\n}", "")
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(gitBin, append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+dir, "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	git("init", "-q")
	git("lfs", "install", "--local")
	os.WriteFile(filepath.Join(dir, ".gitignore"), []byte("runs/\n"), 0o644)
	git("add", "p.whisper", "chat.jsonl", ".gitignore")
	git("commit", "-qm", "pipeline")
	head := strings.TrimSpace(git("rev-parse", "HEAD"))

	r, err := Start(context.Background(), prog, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	record(t, r, filepath.Join(dir, "ckpt"))
	m := r.Manifest()
	if m.Git == nil || m.Git.Commit != head || m.Git.Dirty {
		t.Errorf("git record %+v, want commit %s clean", m.Git, head)
	}
	var out4 FileRecord
	for _, o := range m.Outputs {
		if o.Step == 4 {
			out4 = o
		}
	}
	if out4.Version == nil || out4.Version.ID != "sha256:"+out4.SHA256 || out4.Version.Cache == "" {
		t.Fatalf("output record %+v", out4)
	}
	rel, _ := filepath.Rel("/", out4.Path)
	pointer := filepath.Join(r.Dir, "lfs", rel)
	git("lfs", "pointer", "--check", "--file", pointer)
	computed := git("lfs", "pointer", "--file", out4.Path)
	ours, _ := os.ReadFile(pointer)
	if !strings.Contains(computed, string(ours)) {
		t.Errorf("our pointer\n%s\ndiffers from git-lfs's\n%s", ours, computed)
	}

	git("add", ".gitattributes", "ckpt")
	git("commit", "-qm", "checkpoints")
	ls := git("lfs", "ls-files", "--long")
	for _, step := range []string{"step2", "step4"} {
		if !strings.Contains(ls, "ckpt/"+step+"/adapter.bin") {
			t.Errorf("git lfs ls-files does not list %s:\n%s", step, ls)
		}
	}
	if !strings.Contains(ls, out4.SHA256) {
		t.Errorf("git lfs ls-files lacks our oid %s:\n%s", out4.SHA256, ls)
	}
	git("lfs", "fsck")

	// The commit now differs; a dirty tree is seen.
	os.WriteFile(filepath.Join(dir, "p.whisper"), []byte(m.Sources[0].Text+"\n"), 0o644)
	if g, err := gitInfo(context.Background(), dir); err != nil || !g.Dirty {
		t.Errorf("dirty tree: %+v, %v", g, err)
	}

	// Restore the final checkpoint from the LFS store.
	os.Remove(out4.Path)
	rs, err := Restore(filepath.Join(dir, "runs"), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Path != out4.Path || rs[0].Action != "restored" {
		t.Errorf("restore %+v", rs)
	}
}
