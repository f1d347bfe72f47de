package devstack

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
)

// handedOut remembers the ports this process gave away, so two parts of one stack never get
// the same port between being chosen and being bound.
var handedOut = struct {
	sync.Mutex
	m map[int]bool
}{m: map[int]bool{}}

func reserve(port int) bool {
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.m[port] {
		return false
	}
	handedOut.m[port] = true
	return true
}

// FreePort returns a free TCP port on the loopback interface (from the kernel's ephemeral
// range).
func FreePort() (int, error) {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if reserve(port) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port")
}

// FreeLowPort returns a free port below 32768. Temporal stores each service's membership
// port in a smallint column (cluster_membership.rpc_port): a port from the kernel's
// ephemeral range (32768 and up) makes the service fail at start with "value out of range
// for type smallint".
func FreeLowPort() (int, error) {
	for range 1000 {
		port := 20000 + rand.IntN(12000)
		if !portFree(port) || !reserve(port) {
			continue
		}
		return port, nil
	}
	return 0, fmt.Errorf("no free port between 20000 and 32000")
}

// portFree reports whether port can be bound on 127.0.0.1.
func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
