package hw

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Probe bounds: the disk probe reads at most DiskBudget bytes from at most
// diskMaxFiles files, and stops after diskMaxTime.
const (
	DiskBudget   = 256 << 20
	diskMaxFiles = 64
	diskMaxTime  = time.Second
	diskCacheTTL = 7 * 24 * time.Hour
)

type diskCache struct {
	Disk Disk      `json:"disk"`
	When time.Time `json:"when"`
}

// ProbeDisk measures the sequential read bandwidth of the files under dir
// (the model directory, say), reading at most DiskBudget bytes for at most
// a second, and caches the result per file-system device in
// cacheDir/whisperc (cacheDir "" is os.UserCacheDir) for a week.
func ProbeDisk(ctx context.Context, dir, cacheDir string) (*Disk, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		dir = filepath.Dir(dir)
	}
	dev := deviceID(fi, dir)
	if cacheDir == "" {
		if c, err := os.UserCacheDir(); err == nil {
			cacheDir = c
		}
	}
	var cachePath string
	if cacheDir != "" {
		cachePath = filepath.Join(cacheDir, "whisperc", "disk-"+dev+".json")
		if b, err := os.ReadFile(cachePath); err == nil && len(b) < 1<<16 {
			var c diskCache
			if json.Unmarshal(b, &c) == nil && time.Since(c.When) < diskCacheTTL && c.Disk.ReadBytesPerSec > 0 {
				c.Disk.Cached, c.Disk.Path = true, dir
				return &c.Disk, nil
			}
		}
	}
	d, err := measureDisk(ctx, dir)
	if err != nil {
		return nil, err
	}
	d.Device = dev
	if cachePath != "" {
		if b, err := json.Marshal(diskCache{Disk: *d, When: time.Now()}); err == nil {
			_ = os.MkdirAll(filepath.Dir(cachePath), 0o755)
			_ = os.WriteFile(cachePath, b, 0o644) // a cache: failing to write it only costs the next probe
		}
	}
	return d, nil
}

func measureDisk(ctx context.Context, dir string) (*Disk, error) {
	ctx, cancel := context.WithTimeout(ctx, diskMaxTime)
	defer cancel()
	buf := make([]byte, 1<<20)
	var read int64
	files := 0
	start := time.Now()
	stop := errors.New("stop")
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable entries are skipped
		}
		if ctx.Err() != nil || read >= DiskBudget || files >= diskMaxFiles {
			return stop
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return nil
		}
		defer f.Close()
		files++
		for read < DiskBudget && ctx.Err() == nil {
			n, err := f.Read(buf)
			read += int64(n)
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil
			}
		}
		return nil
	})
	if err != nil && err != stop {
		return nil, err
	}
	el := time.Since(start).Seconds()
	if read == 0 || el <= 0 {
		return nil, errors.New("nothing to read under " + dir)
	}
	return &Disk{Path: dir, ReadBytesPerSec: float64(read) / el, BytesRead: read}, nil
}
