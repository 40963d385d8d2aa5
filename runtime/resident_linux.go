package runtime

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// releaseExecutable drops this process's page-table entries for the
// pages of its own executable that it has touched so far, and returns
// how many resident bytes that released. A run calls it once it has
// compiled and planned, before it loads a model: parsing, checking and
// planning run code and read tables (type data, function tables, the
// packages' initialisation) that generation never touches again, and a
// 6.18 kernel maps a whole page-cache folio of the file on a fault, so
// that startup leaves 20 MiB of the 56 MB file mapped (measured on the
// 15M fp32 run: 11.7 MiB of code, 8.7 MiB of read-only data). The pages
// stay in the page cache; what the run touches afterwards faults back
// in (about 10 MiB for a 15M decode, mostly the same large folios).
//
// Only the read-only mappings of the file with no private (copied-on-
// write) pages are released: madvise(MADV_DONTNEED) would discard a
// private page, such as the dynamic linker's relocated, then
// write-protected, GOT, and the writable data mapping holds the
// program's globals.
func releaseExecutable() int64 {
	var released int64
	for _, m := range executableMappings() {
		if (m.perms != "r-xp" && m.perms != "r--p") || m.anon != 0 || m.rss == 0 {
			continue
		}
		// Addresses from /proc, not Go pointers: the raw call, so that no
		// slice is made over memory Go does not own.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), unix.MADV_DONTNEED); errno == 0 {
			released += m.rss
		}
	}
	return released
}

// executableBytes returns how much of this process's executable is
// resident (the Rss of every mapping of its file), or 0 when that cannot
// be read.
func executableBytes() int64 {
	var total int64
	for _, m := range executableMappings() {
		total += m.rss
	}
	return total
}

// exeMapping is one mapping of this process's executable file: its
// address range, permissions, and resident and anonymous (private,
// copied-on-write) bytes.
type exeMapping struct {
	start, end uint64
	perms      string
	rss, anon  int64
}

// executableMappings returns the mappings of this process's executable
// file, from /proc/self/smaps (nil when it cannot be read).
func executableMappings() []exeMapping {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		exe = p
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return nil
	}
	defer f.Close()
	var maps []exeMapping
	var cur *exeMapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			// A mapping's header: range, permissions, offset, device,
			// inode and (for a file) its path, which may hold spaces.
			cur = nil
			if len(fields) < 6 || strings.Join(fields[5:], " ") != exe {
				continue
			}
			lo, hi, _ := strings.Cut(fields[0], "-")
			a, err1 := strconv.ParseUint(lo, 16, 64)
			b, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 != nil || err2 != nil || b <= a {
				continue
			}
			maps = append(maps, exeMapping{start: a, end: b, perms: fields[1]})
			cur = &maps[len(maps)-1]
		case cur != nil && len(fields) == 3 && (fields[0] == "Rss:" || fields[0] == "Anonymous:"):
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			if fields[0] == "Rss:" {
				cur.rss = kb << 10
			} else {
				cur.anon = kb << 10
			}
		}
	}
	if sc.Err() != nil {
		return nil
	}
	return maps
}
