package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/workflows"
)

// recordHistories keeps the histories of a conversation's runs (closed ones, and the
// running one) in workflows/testdata when RECORD_HISTORIES is set (`make record-histories`),
// for the replay test: every path the workflow takes is replayed by `make test` against the
// current code, so a change that would break running conversations fails there.
func recordHistories(t *testing.T, s *stack, account, igsid, name string) {
	recordRuns(t, s, account, igsid, name, 0)
}

// recordRuns records the oldest n runs of the conversation (0: all).
func recordRuns(t *testing.T, s *stack, account, igsid, name string, n int) {
	t.Helper()
	dir := os.Getenv("RECORD_HISTORIES")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := identity.WorkflowID(account, igsid)
	resp, err := s.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowId = '" + id + "'"})
	require.NoError(t, err)
	execs := resp.GetExecutions() // newest first
	if n > 0 && len(execs) > n {
		execs = execs[len(execs)-n:]
	}
	for i, e := range execs {
		var events []*historypb.HistoryEvent
		it := s.tc.GetWorkflowHistory(ctx, id, e.GetExecution().GetRunId(), false, 0)
		for it.HasNext() {
			ev, err := it.Next()
			require.NoError(t, err)
			events = append(events, ev)
		}
		// Payloads are stored decrypted: the replay test replays with the default data
		// converter, so its files need no key (they hold only the tests' own messages).
		hist := &historypb.History{Events: events}
		var payloads []*commonpb.Payload
		collectPayloads(hist.ProtoReflect(), &payloads)
		plain, err := s.dataConverterCodec().Decode(payloads)
		require.NoError(t, err)
		for i, p := range payloads {
			proto.Reset(p)
			proto.Merge(p, plain[i])
		}
		raw, err := protojson.MarshalOptions{Indent: " "}.Marshal(hist)
		require.NoError(t, err)
		// Named after the code that ran it; a recording is never overwritten (it is the only
		// proof that conversations running that shape still replay): delete it by hand once
		// no running conversation can be in that shape.
		base := workflows.ConversationCode + "-" + name
		file := filepath.Join(dir, base+".json")
		if len(execs) > 1 {
			file = filepath.Join(dir, fmt.Sprintf("%s-run%d.json", base, len(execs)-i))
		}
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			t.Errorf("%s is recorded already: recordings are never overwritten (delete it by hand when no running conversation can be in its shape)", file)
			continue
		}
		require.NoError(t, err)
		_, err = f.Write(raw)
		require.NoError(t, errors.Join(err, f.Close()))
		t.Logf("recorded %d events of %s run %s in %s", len(events), id, e.GetExecution().GetRunId(), file)
	}
}
