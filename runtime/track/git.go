package track

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// gitInfo returns the commit and dirty flag of the git repository that
// holds dir, nil when dir is in none, or an error when git fails. Files
// git does not track do not make the tree dirty.
func gitInfo(ctx context.Context, dir string) (*Git, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return nil, errors.New("git is not installed; no commit recorded")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	root, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, nil // not a repository
	}
	g := &Git{Root: root}
	if g.Commit, err = git(ctx, dir, "rev-parse", "HEAD"); err != nil {
		g.Commit = "" // a repository without commits
	}
	st, err := git(ctx, dir, "status", "--porcelain", "--untracked-files=no")
	if err != nil {
		return nil, err
	}
	g.Dirty = st != ""
	return g, nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}
