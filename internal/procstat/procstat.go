// Package procstat reads a process's CPU time and memory from /proc, and
// finds the lab's Asterisk process, for the load tool and the benchmark.
package procstat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of utime and stime in /proc/PID/stat (USER_HZ,
// 100 on every Linux this runs on).
const clockTick = 10 * time.Millisecond

// CPU returns a process's user plus system CPU time from
// /proc/PID/stat (fields 14 and 15, all threads, 10 ms resolution).
func CPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	fields, err := StatFields(data)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	// fields[0] is field 3 (state); utime is field 14, stime field 15.
	ut, err1 := strconv.ParseUint(fields[11], 10, 64)
	st, err2 := strconv.ParseUint(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(ut+st) * clockTick, nil
}

// StatFields splits /proc/PID/stat after the command name, which may
// contain spaces and parentheses: the first returned field is field 3.
func StatFields(data []byte) ([]string, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return nil, errors.New("no ')' after the command name")
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return nil, fmt.Errorf("only %d fields", len(f))
	}
	return f, nil
}

// RSS returns a process's resident set size (VmRSS of
// /proc/PID/status) in bytes.
func RSS(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) < 1 {
				break
			}
			kb, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// AsteriskPID finds the Asterisk server: the oldest process named
// "asterisk" (CLI invocations such as `asterisk -rx` share the name but
// start later and end at once). The lab's Asterisk runs in a chroot, which
// /proc shows like any other process.
func AsteriskPID() (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	type cand struct {
		pid   int
		start uint64
	}
	var found []cand
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil || strings.TrimSpace(string(comm)) != "asterisk" {
			continue
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f, err := StatFields(data)
		if err != nil {
			continue
		}
		start, _ := strconv.ParseUint(f[19], 10, 64) // field 22: start time
		found = append(found, cand{pid, start})
	}
	if len(found) == 0 {
		return 0, errors.New("no process named asterisk (is the lab up? lab/lab.sh status)")
	}
	sort.Slice(found, func(i, j int) bool { return found[i].start < found[j].start })
	return found[0].pid, nil
}
