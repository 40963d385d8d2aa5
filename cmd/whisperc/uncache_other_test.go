//go:build !linux

package main

import "testing"

// uncache is Linux's (uncache_linux_test.go): the plan-versus-run table
// reads /proc and drops files from the page cache, which it does only
// there.
func uncache(t *testing.T, name string) {
	t.Fatalf("measuring the plan against runs needs Linux (%s)", name)
}
