package devstack

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRoundRobinSpreadsAndSkipsAStoppedReplica: requests alternate between the replicas;
// while one is stopped every request still reaches the other, body and all.
func TestRoundRobinSpreadsAndSkipsAStoppedReplica(t *testing.T) {
	var hits [2]int
	var servers [2]*httptest.Server
	for i := range servers {
		servers[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i]++
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%d:%s:%s", i, r.Header.Get("X-Forwarded-For"), b)
		}))
		defer servers[i].Close()
	}
	p, err := StartRoundRobin("127.0.0.1:0", []string{servers[0].Listener.Addr().String(), servers[1].Listener.Addr().String()})
	require.NoError(t, err)
	defer p.Close()
	post := func() string {
		resp, err := http.Post("http://"+p.Addr()+"/webhooks/instagram", "application/json", strings.NewReader(`{"x":1}`))
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	for range 10 {
		require.Contains(t, post(), `:127.0.0.1:{"x":1}`)
	}
	require.Equal(t, [2]int{5, 5}, hits)

	servers[1].Close()
	for range 6 {
		require.Equal(t, `0:127.0.0.1:{"x":1}`, post())
	}
	require.Equal(t, 11, hits[0])
}
