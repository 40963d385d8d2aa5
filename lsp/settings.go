package lsp

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"go.lsp.dev/protocol"

	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
)

// settings are the whisper-specific settings a client may send as
// initializationOptions or under "whisper" in workspace/didChangeConfiguration.
type settings struct {
	Target *string `json:"target"`
	// ImportDirs widens the import rule like the command line's
	// --import-dir: a list of directories, or one directory as a string.
	ImportDirs json.RawMessage `json:"importDirs"`
}

// config is what an analysis depends on besides the text: the settings in
// force when it started.
type config struct {
	target string
	// importDirs are the directories, as written, whose .whisper files
	// may be imported besides the document's own directory tree.
	importDirs []string
}

func (c config) equal(o config) bool {
	return c.target == o.target && slices.Equal(c.importDirs, o.importDirs)
}

// settingProblem is an error in one of the server's settings: it concerns
// no line of a document, and is shown at the start of each one and in a
// message window.
type settingProblem struct {
	// setting is "target" or "importDirs".
	setting string
	d       *diag.Diagnostic
}

// applySettings reads settings from raw JSON; either the settings object
// itself or an object with a "whisper" member.
func (s *server) applySettings(raw []byte) {
	if len(raw) == 0 {
		return
	}
	var wrapped struct {
		Whisper *settings `json:"whisper"`
	}
	var st settings
	if err := json.Unmarshal(raw, &wrapped); err == nil && wrapped.Whisper != nil {
		st = *wrapped.Whisper
	} else if err := json.Unmarshal(raw, &st); err != nil {
		s.logf("ignoring settings: %v", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.Target != nil {
		s.target = *st.Target
		if s.target == "" {
			s.target = s.opts.Target // no preference: the command line's, if any
		}
	}
	if st.ImportDirs != nil {
		s.importDirs = nil
		s.importDirsBad = ""
		var one string
		var list []string
		switch {
		case string(st.ImportDirs) == "null":
			// no preference: the command line's, if any
		case json.Unmarshal(st.ImportDirs, &one) == nil:
			if one != "" {
				s.importDirs = []string{one}
			} else {
				s.importDirs = []string{}
			}
		case json.Unmarshal(st.ImportDirs, &list) == nil:
			s.importDirs = append([]string{}, list...)
		default:
			s.importDirsBad = fmt.Sprintf("The value %s is neither a list of directories nor one directory.", clip(string(st.ImportDirs), 80))
		}
	}
}

// clip shortens s to at most n bytes for a message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// currentConfig returns the settings analyses run with.
func (s *server) currentConfig() config {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := config{target: s.target, importDirs: s.opts.ImportDirs}
	if s.importDirs != nil {
		c.importDirs = s.importDirs
	}
	return c
}

// settingProblems returns the errors in the settings c: a target that names
// no profile (P102, with a did-you-mean, as the command line says it) and
// import directories that are not directories.
func (s *server) settingProblems(c config) []settingProblem {
	var out []settingProblem
	if c.target != "" {
		_, ds := planner.ParseTarget(c.target, nil)
		for _, d := range ds {
			if d.Severity == diag.Error {
				out = append(out, settingProblem{setting: "target", d: d})
			}
		}
	}
	s.mu.Lock()
	bad := s.importDirsBad
	s.mu.Unlock()
	if bad != "" {
		out = append(out, settingProblem{setting: "importDirs", d: &diag.Diagnostic{Severity: diag.Error, Summary: "Not a list of directories", Detail: bad}})
	}
	_, problems := s.resolveImportDirs(c.importDirs)
	return append(out, problems...)
}

// resolveImportDirs returns the import directories as absolute paths, and
// the problems of those that cannot be used: a relative path is relative to
// the first workspace folder, and each must name an existing directory.
func (s *server) resolveImportDirs(dirs []string) ([]string, []settingProblem) {
	s.mu.Lock()
	folders := s.folders
	s.mu.Unlock()
	var out []string
	var problems []settingProblem
	bad := func(summary, detail string) {
		problems = append(problems, settingProblem{setting: "importDirs", d: &diag.Diagnostic{Severity: diag.Error, Summary: summary, Detail: detail}})
	}
	for _, d := range dirs {
		if d == "" {
			bad("Empty directory name", "Each entry names a directory whose .whisper files may be imported; remove the empty one.")
			continue
		}
		p := d
		if !filepath.IsAbs(p) {
			if len(folders) == 0 {
				bad("Relative directory "+quote(d), "A relative import directory is resolved against the workspace folder, and the editor opened none. Write an absolute path.")
				continue
			}
			p = filepath.Join(folders[0], p)
		}
		p = filepath.Clean(p)
		fi, err := os.Stat(p)
		switch {
		case err != nil:
			bad("No such directory: "+quote(d), fmt.Sprintf("%s does not exist or cannot be read (%v). Correct the path, or remove it from the setting.", p, errReason(err)))
			continue
		case !fi.IsDir():
			bad("Not a directory: "+quote(d), p+" is a file; an import directory must be a directory. Name the directory that holds it.")
			continue
		}
		out = append(out, p)
	}
	return out, problems
}

// errReason is the last part of a file-system error ("no such file or
// directory").
func errReason(err error) string {
	if pe := (*os.PathError)(nil); errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// checkSettings tells the user, in a message window, about each error in
// the settings; each analysis also shows them as diagnostics.
func (s *server) checkSettings() {
	for _, p := range s.settingProblems(s.currentConfig()) {
		if err := s.client.ShowMessage(s.ctx, &protocol.ShowMessageParams{Type: protocol.MessageTypeError, Message: "whisperc: " + p.message()}); err != nil {
			s.logf("showing a message: %v", err)
		}
	}
}

// message words an error in a setting for the editor.
func (p settingProblem) message() string {
	var msg, consequence string
	switch p.setting {
	case "importDirs":
		msg = "The language server's import directories (`whisper.importDirs`, or `whisperc lsp --import-dir`): "
		consequence = " Until then imports from it are refused (E218)."
	default:
		msg = "The language server's target setting (`whisper.target`, or `whisperc lsp --target`): "
		consequence = " Until then the plan is not checked and no memory figures are shown."
	}
	msg += p.d.Summary
	if p.d.Detail != "" {
		msg += "\n\n" + p.d.Detail
	}
	return msg + consequence
}
