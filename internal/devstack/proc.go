package devstack

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Usage is what /proc says about a process: CPU time spent (user + system), resident set
// size now and its peak (VmHWM, since start or since ResetPeak).
type Usage struct {
	CPU      time.Duration
	RSS, HWM int64 // bytes
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// ReadUsage reads /proc/<pid>/stat and /proc/<pid>/status (Linux only).
func ReadUsage(pid int) (Usage, error) {
	var u Usage
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, err
	}
	utime, stime, err := parseStatTimes(stat)
	if err != nil {
		return u, err
	}
	u.CPU = time.Duration(utime+stime) * time.Second / clockTicks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	u.RSS = statusKB(status, "VmRSS:") * 1024
	u.HWM = statusKB(status, "VmHWM:") * 1024
	return u, nil
}

// ResetPeak resets a process's VmHWM to its current RSS (writes 5 to clear_refs; needs
// permission over the process, Linux ≥ 4.0).
func ResetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// parseStatTimes returns utime and stime (fields 14 and 15) in clock ticks. The command
// name (field 2) may contain spaces and parentheses, so parsing starts after the last ')'.
func parseStatTimes(stat []byte) (utime, stime int64, err error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, errors.New("devstack: malformed /proc stat")
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state); utime is field 14 → f[11], stime f[12].
	if len(f) < 13 {
		return 0, 0, errors.New("devstack: short /proc stat")
	}
	if utime, err = strconv.ParseInt(f[11], 10, 64); err != nil {
		return 0, 0, err
	}
	if stime, err = strconv.ParseInt(f[12], 10, 64); err != nil {
		return 0, 0, err
	}
	return utime, stime, nil
}

// parsePPID returns field 4 of /proc/<pid>/stat.
func parsePPID(stat []byte) int {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

func statusKB(status []byte, key string) int64 {
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// findChildPID finds a child of parent whose command line holds the arguments want in
// order, next to each other (e.g. "--port", "7233"). 0 when there is none.
func findChildPID(parent int, want ...string) int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(d + "/stat")
		if err != nil || parsePPID(stat) != parent {
			continue
		}
		cmdline, err := os.ReadFile(d + "/cmdline")
		if err != nil {
			continue
		}
		if containsArgs(strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"), want) {
			return pid
		}
	}
	return 0
}

func containsArgs(args, want []string) bool {
	if len(want) == 0 {
		return true
	}
	for i := 0; i+len(want) <= len(args); i++ {
		ok := true
		for j, w := range want {
			if args[i+j] != w {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// FindProcess finds any process whose command line holds the arguments want next to each
// other, e.g. ("-p", "55434") for a PostgreSQL postmaster. 0 when there is none.
func FindProcess(want ...string) int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(d + "/cmdline")
		if err != nil {
			continue
		}
		if containsArgs(strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"), want) {
			return pid
		}
	}
	return 0
}

// Children lists the direct children of a process.
func Children(parent int) []int {
	var out []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if stat, err := os.ReadFile(d + "/stat"); err == nil && parsePPID(stat) == parent {
			out = append(out, pid)
		}
	}
	return out
}
