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
	"sync/atomic"
	"syscall"

	"github.com/alecthomas/kong"
	"github.com/mattn/go-isatty"
)

// Exit codes. A command that an interrupt (Ctrl-C, SIGTERM) cut short
// exits 130, and one whose standard output was closed (whisperc run | head)
// 141, as shells report a process that the signal ended: 128 + SIGINT,
// 128 + SIGPIPE. A server that drains on SIGTERM exits 0.
const (
	exitOK          = 0
	exitErrors      = 1
	exitUsage       = 2
	exitInternal    = 3
	exitInterrupted = 130
	exitBrokenPipe  = 141
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
	// out watches stdout for a reader that went away.
	out *pipeWatch
}

// pipeWatch is stdout, remembering whether a write found the pipe closed
// (EPIPE), so that whisperc stops quietly instead of reporting it.
type pipeWatch struct {
	w      io.Writer
	broken atomic.Bool
}

func (p *pipeWatch) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	if errors.Is(err, syscall.EPIPE) {
		p.broken.Store(true)
	}
	return n, err
}

// stopped returns the exit code of a command that failed because the user
// interrupted it or closed its output, and whether that is what happened.
func (e *env) stopped() (int, bool) {
	switch {
	case e.out != nil && e.out.broken.Load():
		return exitBrokenPipe, true
	case e.ctx.Err() != nil:
		return exitInterrupted, true
	}
	return 0, false
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
	go func() {
		// The first Ctrl-C stops the work cleanly; a second one kills.
		<-ctx.Done()
		stop()
	}()
	// A write to a closed stdout returns EPIPE instead of killing the
	// process, so that whisperc stops generating and exits 141 quietly.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
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
	out := &pipeWatch{w: stdout}
	e := &env{ctx: ctx, stdin: stdin, stdout: out, stderr: stderr, out: out}
	err = kctx.Run(e)
	if out.broken.Load() {
		return exitBrokenPipe // the reader is gone: nothing to say, and no one to say it to
	}
	if code, ok := e.stopped(); ok && err != nil {
		fmt.Fprintln(stderr, "whisperc: interrupted")
		return code
	}
	if err != nil {
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
	if p, ok := w.(*pipeWatch); ok {
		w = p.w
	}
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
