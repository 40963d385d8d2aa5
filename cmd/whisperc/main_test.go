package main

import (
	"context"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the scripts run whisperc as a command in-process.
func TestMain(m *testing.M) {
	// Plans in tests use the nominal CPU roofline, not a calibration of
	// the loaded test machine (planner/cost's measured tests cover it).
	os.Setenv("WHISPERC_CPU_RATES", "off")
	testscript.Main(m, map[string]func(){
		"whisperc": func() {
			os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
		},
	})
}

// TestScripts runs the txtar scripts in testdata/script: each is a small
// session at the command line with the files it needs and the output and
// exit codes it expects.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: os.Getenv("UPDATE_SCRIPTS") != "",
	})
}
