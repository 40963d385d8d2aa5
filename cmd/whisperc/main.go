// Command whisperc is the compiler for .whisper pipelines: it checks and
// formats them, plans them against hardware, runs them, explains its rules
// and serves editors.
//
// The command is thin: each subcommand parses its flags, makes one call into
// the library packages and turns the outcome into an exit code. Exit codes:
// 0 success (warnings allowed), 1 the input has errors (or the plan does not
// fit), 2 usage errors, 3 internal errors.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
	"github.com/mattn/go-isatty"
)

// Exit codes.
const (
	exitOK       = 0
	exitErrors   = 1
	exitUsage    = 2
	exitInternal = 3
)

// cli is the command line. Each command lives in its own file.
type cli struct {
	Check   checkCmd   `cmd:"" help:"Parse and check .whisper files; report every problem."`
	Fmt     fmtCmd     `cmd:"" help:"Format .whisper files in the canonical layout."`
	Explain explainCmd `cmd:"" help:"Explain a diagnostic code or rule (like rustc --explain)."`
	Hw      hwCmd      `cmd:"" help:"Show the detected hardware."`
	Plan    planCmd    `cmd:"" help:"Validate a pipeline against hardware, predict memory and time, show the execution graph."`
	Run     runCmd     `cmd:"" help:"Execute a pipeline (or a saved plan) on this machine."`
	Runs    runsCmd    `cmd:"" help:"List, show, compare, plot and restore recorded runs (the track block's dir)."`
	Export  exportCmd  `cmd:"" help:"Write the files that run a pipeline on a GPU engine: hf, torchtune or vllm."`
	Lsp     lspCmd     `cmd:"" help:"Run the language server on stdio."`
	Version versionCmd `cmd:"" help:"Print the version."`
}

// env is what every command gets: its streams and a cancellable context.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// exitError carries an exit code out of a command whose output has already
// been written.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() { os.Exit(mainCode(os.Args[1:])) }

// mainCode runs the command line with the process's streams and signals:
// SIGTERM, like Ctrl-C, cancels the run (a server drains, then exits 0).
func mainCode(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}

// run executes the command line args and returns the exit code. It is the
// testable body of main.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "whisperc: internal error: %v\nThis is a bug in whisperc; please report it with the input that caused it.\n", r)
			code = exitInternal
		}
	}()
	var c cli
	exited := -1
	parser, err := kong.New(&c,
		kong.Name("whisperc"),
		kong.Description("whisperc compiles declarative LLM pipelines: check, plan, run.\n\n"+
			"The flags "+terraformFlagList()+" may also be written with one dash, as Terraform users type them: "+
			"-var NAME=VALUE is --var=NAME=VALUE, -out PLAN.json is --out=PLAN.json (or -o PLAN.json)."),
		kong.UsageOnError(),
		kong.Writers(stdout, stderr),
		kong.Exit(func(n int) { exited = n }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	if err != nil {
		fmt.Fprintf(stderr, "whisperc: %v\n", err)
		return exitInternal
	}
	if len(args) > 0 && args[0] == "help" {
		// `whisperc help [COMMAND]` is `whisperc [COMMAND] --help`.
		args = append(append([]string{}, args[1:]...), "--help")
	}
	kctx, err := parser.Parse(normalizeArgs(args))
	if exited >= 0 { // --help
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "whisperc: %v\n", err)
		return exitUsage
	}
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	if err := kctx.Run(e); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "whisperc: %v\n", err)
			return exitUsage
		}
		fmt.Fprintf(stderr, "whisperc: %v\n", err)
		return exitErrors
	}
	return exitOK
}

// usageError is a bad command-line value detected after parsing.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
