package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/sandbox/meta"
	"github.com/igdirect/bridge/sandbox/rocketchat"
)

// faultMessages is how many messages each direction carries per fault case: a few in
// `make test`, more in `make test-faults` (FAULT_MESSAGES).
func faultMessages() int {
	if n, err := strconv.Atoi(os.Getenv("FAULT_MESSAGES")); err == nil && n > 0 {
		return n
	}
	return 4
}

// tally counts what arrived against what was sent, for one direction.
type tally struct{ sent, delivered, duplicated, lost int }

func (t tally) String() string {
	return fmt.Sprintf("sent %d, delivered %d, duplicated %d, lost %d", t.sent, t.delivered, t.duplicated, t.lost)
}

func tallyOf(want, got []string) (tally, bool) {
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	t := tally{sent: len(want)}
	for _, w := range want {
		switch n := seen[w]; {
		case n == 0:
			t.lost++
		case n > 1:
			t.delivered++
			t.duplicated += n - 1
		default:
			t.delivered++
		}
	}
	inOrder := len(got) == len(want)
	for i := range want {
		if inOrder && got[i] != want[i] {
			inOrder = false
		}
	}
	return t, inOrder
}

// exchange runs a conversation of n customer messages and n agent replies while fault() is
// active (it returns the function that ends the fault), and checks that every message
// arrived exactly once and in order, both ways.
func exchange(t *testing.T, s *stack, name string, fault func() (heal func())) {
	t.Helper()
	n := faultMessages()
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Fault " + name})
	s.meta.UserSendsText(account, igsid, name+" opener")
	room := waitRoom(t, s, igsid, 1)
	waitVisitorMessages(t, s, room.ID, 1)

	heal := fault()
	var inbound, outbound []string
	for i := 1; i <= n; i++ {
		in := fmt.Sprintf("%s customer %d", name, i)
		inbound = append(inbound, in)
		s.meta.UserSendsText(account, igsid, in)
		out := fmt.Sprintf("%s agent %d", name, i)
		outbound = append(outbound, "Ana Agent: "+out)
		for {
			_, err := s.rc.AgentSend(room.ID, agentName, out)
			if err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond) // the emulator refuses agents too while it is down
		}
		time.Sleep(150 * time.Millisecond)
	}
	time.Sleep(time.Second)
	heal()

	var in, out tally
	var inOrder, outOrder bool
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		var gotIn []string
		for _, m := range visitorMessages(s, room.ID) {
			if m.Msg != name+" opener" {
				gotIn = append(gotIn, strings.Split(m.Msg, "\n")[0])
			}
		}
		in, inOrder = tallyOf(inbound, gotIn)
		out, outOrder = tallyOf(outbound, sentTexts(s, igsid))
		if in.lost == 0 && out.lost == 0 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	time.Sleep(time.Second) // late duplicates would show up by now
	var gotIn []string
	for _, m := range visitorMessages(s, room.ID) {
		if m.Msg != name+" opener" {
			gotIn = append(gotIn, strings.Split(m.Msg, "\n")[0])
		}
	}
	in, inOrder = tallyOf(inbound, gotIn)
	out, outOrder = tallyOf(outbound, sentTexts(s, igsid))
	t.Logf("%-28s Instagram → Rocket.Chat: %s; Rocket.Chat → Instagram: %s", name, in, out)
	require.Zero(t, in.lost+in.duplicated, "customer messages: %s", in)
	require.Zero(t, out.lost+out.duplicated, "agent replies: %s", out)
	require.True(t, inOrder, "customer messages out of order: %v", gotIn)
	require.True(t, outOrder, "agent replies out of order: %v", sentTexts(s, igsid))
}

func TestFaults(t *testing.T) {
	requireStack(t)
	s, err := startStack("faults", stackOptions{})
	require.NoError(t, err)
	t.Cleanup(s.stop)
	rcFault := func(f rocketchat.Fault) func() func() {
		return func() func() { s.rc.InjectFault(f); return s.rc.ClearFaults }
	}
	graphFault := func(f meta.Fault) func() func() {
		return func() func() { s.meta.InjectFault(f); return s.meta.ClearFaults }
	}
	tooMany := `{"success":false,"error":"Error, too many requests. Please slow down. You must wait 1 seconds before trying this endpoint again. [error-too-many-requests]"}`
	cases := []struct {
		name  string
		fault func() func()
	}{
		{"rocketchat down", func() func() { s.rc.SetDown(true); return func() { s.rc.SetDown(false) } }},
		{"rocketchat 429", rcFault(rocketchat.Fault{Route: "POST /api/v1/livechat/message", Count: 3, Status: 429, Body: tooMany})},
		{"rocketchat 5xx", rcFault(rocketchat.Fault{Route: "*", Count: 4, Status: 502, Body: "<html>Bad Gateway</html>"})},
		{"graph 5xx", graphFault(meta.Fault{Endpoint: "send", Count: 2, HTTPStatus: 500})},
		{"graph rate limit 4", graphFault(meta.Fault{Endpoint: "send", Count: 2, HTTPStatus: 400, Code: 4, Message: "Application request limit reached"})},
		{"graph rate limit 17", graphFault(meta.Fault{Endpoint: "send", Count: 1, HTTPStatus: 400, Code: 17, Message: "User request limit reached"})},
		{"graph rate limit 32", graphFault(meta.Fault{Endpoint: "send", Count: 1, HTTPStatus: 400, Code: 32, Message: "Page request limit reached"})},
		{"graph rate limit 613", graphFault(meta.Fault{Endpoint: "send", Count: 1, HTTPStatus: 400, Code: 613, Message: "Calls to this api have exceeded the rate limit"})},
		{"graph rate limit 80002", graphFault(meta.Fault{Endpoint: "send", Count: 1, HTTPStatus: 400, Code: 80002, Message: "There have been too many calls to this Instagram account"})},
		{"graph accepted then 5xx", graphFault(meta.Fault{Endpoint: "send", Count: 2, HTTPStatus: 500, AfterAccept: true})},
		{"worker killed", func() func() {
			time.AfterFunc(300*time.Millisecond, func() { s.stopProcess("worker", syscall.SIGKILL) })
			return func() { require.NoError(t, s.startProcess("worker")) }
		}},
		{"ingress restarted", func() func() {
			s.stopProcess("ingress", syscall.SIGTERM)
			return func() {
				require.NoError(t, s.startProcess("ingress"))
				require.NoError(t, waitHTTP(s.ingressURL+"/healthz", 30*time.Second))
			}
		}},
		{"temporal restarted", func() func() {
			s.stopTemporal()
			return func() { require.NoError(t, s.startTemporal()) }
		}},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) { exchange(t, s, c.name, c.fault) })
	}
	// Situations the conversation used to stall or send twice in (issue 12).
	for _, c := range []struct {
		name     string
		scenario func(*testing.T, *stack)
	}{
		{"dead token, close, new messages", deadTokenCloseAndNewMessages},
		{"Meta down while closing", metaDownWhileClosing},
		{"redelivery after the run completed", redeliveryAfterTheRunCompleted},
		{"account not connected", accountNotConnected},
		{"department that does not exist", departmentThatDoesNotExist},
		{"worker killed after Meta accepted", workerKilledAfterMetaAccepted},
		{"upload answer lost, worker killed", uploadAnswerLostThenWorkerKilled},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) { c.scenario(t, s) })
	}
}
