package hw

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// readMeminfo returns MemTotal and MemAvailable from a /proc/meminfo-style
// file, in bytes.
func readMeminfo(path string) (total, avail int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	return parseMeminfo(io.LimitReader(f, 1<<20))
}

func parseMeminfo(r io.Reader) (total, avail int64, err error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || n < 0 || n > 1<<50 {
			continue
		}
		mult := int64(1)
		if len(fields) > 1 && strings.EqualFold(fields[1], "kB") {
			mult = 1024
		}
		switch key {
		case "MemTotal":
			total = n * mult
		case "MemAvailable":
			avail = n * mult
		}
	}
	if total == 0 {
		return 0, 0, fmt.Errorf("no MemTotal line")
	}
	return total, avail, sc.Err()
}
