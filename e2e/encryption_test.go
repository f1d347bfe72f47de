package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/igdirect/bridge/config"
	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/internal/codec"
	"github.com/igdirect/bridge/internal/temporalx"
	"github.com/igdirect/bridge/sandbox/meta"
)

// What the Temporal server stores of a conversation is encrypted: the customer's words are
// nowhere in the raw history (as the server's database, a backup or a hosted Temporal
// holds it), and the codec endpoint on ingress's admin listener, with its token, gives
// them back to operators — which is how the Temporal UI shows them (make run wires
// --ui-codec-endpoint).
func TestConversationHistoryIsEncrypted(t *testing.T) {
	s := requireStack(t)
	igsid := uniqueIGSID()
	const words = "my secret address is Rua das Flores 27"
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Marta Sigilo", Username: "marta.sigilo"})
	s.meta.UserSendsText(account, igsid, words)
	room := waitRoom(t, s, igsid, 1)
	waitVisitorMessages(t, s, room.ID, 1)

	// The raw history, through the gRPC service (no data converter in between).
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var raw []byte
	var payloads []*commonpb.Payload
	eventually(t, 15*time.Second, "the history to hold the message", func() bool {
		resp, err := s.tc.WorkflowService().GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
			Namespace: "default", Execution: &commonpb.WorkflowExecution{WorkflowId: identity.WorkflowID(account, igsid)}})
		if err != nil {
			return false
		}
		raw, _ = proto.Marshal(resp.GetHistory())
		payloads = payloads[:0]
		collectPayloads(resp.GetHistory().ProtoReflect(), &payloads)
		return len(payloads) > 3
	})
	// Search attributes are never encrypted (Temporal indexes them): the username is one by
	// design (InstagramUsername, README), so it is not checked here.
	for _, clear := range []string{words, "Rua das Flores", "Marta Sigilo"} {
		require.False(t, strings.Contains(string(raw), clear), "%q in clear in the stored history", clear)
	}
	for _, p := range payloads {
		require.Equal(t, "binary/encrypted", string(p.GetMetadata()["encoding"]), "every payload is encrypted")
	}

	// The codec endpoint decrypts them for an operator with the token, on the admin
	// listener only.
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: payloads})
	require.NoError(t, err)
	post := func(base, path, auth string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, out := post(s.adminURL, "/codec/"+s.codecToken+"/decode", "")
	require.Equal(t, http.StatusOK, status, out)
	var decoded commonpb.Payloads
	require.NoError(t, protojson.Unmarshal([]byte(out), &decoded))
	var all strings.Builder
	for _, p := range decoded.Payloads {
		all.Write(p.GetData())
	}
	require.Contains(t, all.String(), words)

	status, _ = post(s.adminURL, "/codec/decode", "")
	require.Equal(t, http.StatusUnauthorized, status, "no token")
	status, _ = post(s.adminURL, "/codec/decode", "Bearer "+s.adminToken)
	require.Equal(t, http.StatusUnauthorized, status, "the admin token is not the codec token")
	status, _ = post(s.ingressURL, "/codec/"+s.codecToken+"/decode", "")
	require.Equal(t, http.StatusNotFound, status, "not on the public listener")
}

// requireNotInHistory checks that text appears nowhere in a workflow's history, neither in
// the raw history nor in its payloads decrypted with the product's key.
func requireNotInHistory(t *testing.T, s *stack, workflowID, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := s.tc.WorkflowService().GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
		Namespace: "default", Execution: &commonpb.WorkflowExecution{WorkflowId: workflowID}})
	require.NoError(t, err)
	raw, _ := proto.Marshal(resp.GetHistory())
	require.False(t, strings.Contains(string(raw), text), "in the raw history of %s", workflowID)
	var payloads []*commonpb.Payload
	collectPayloads(resp.GetHistory().ProtoReflect(), &payloads)
	require.NotEmpty(t, payloads)
	decoded, err := s.dataConverterCodec().Decode(payloads)
	require.NoError(t, err)
	for _, p := range decoded {
		require.False(t, strings.Contains(string(p.GetData()), text), "in a decrypted payload of %s: %s", workflowID, p.GetData())
	}
}

// collectPayloads walks a protobuf message and gathers every Payload in it, except search
// attributes (indexed by Temporal, so never encrypted).
func collectPayloads(m protoreflectMessage, out *[]*commonpb.Payload) {
	if _, ok := m.Interface().(*commonpb.SearchAttributes); ok {
		return
	}
	if p, ok := m.Interface().(*commonpb.Payload); ok {
		*out = append(*out, p)
		return
	}
	m.Range(func(fd protoreflectField, v protoreflectValue) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				collectPayloads(l.Get(i).Message(), out)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflectMapKey, mv protoreflectValue) bool {
				collectPayloads(mv.Message(), out)
				return true
			})
		case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
			collectPayloads(v.Message(), out)
		}
		return true
	})
}

type (
	protoreflectMessage = protoreflect.Message
	protoreflectField   = protoreflect.FieldDescriptor
	protoreflectValue   = protoreflect.Value
	protoreflectMapKey  = protoreflect.MapKey
)

// dataConverterCodec is the payload codec of the stack's processes (from its key).
func (s *stack) dataConverterCodec() *codec.Codec {
	c, err := temporalx.PayloadCodec(&config.Config{TokenEncryptionKey: config.Secret(s.secrets["TOKEN_ENCRYPTION_KEY"])})
	if err != nil {
		panic(err)
	}
	return c
}
