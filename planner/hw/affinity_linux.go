package hw

import "golang.org/x/sys/unix"

// affinityCPUs returns the number of CPUs this process may be scheduled
// on (sched_getaffinity), or 0 when unknown.
func affinityCPUs() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 0
	}
	return set.Count()
}
