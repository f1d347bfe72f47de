package meta

import (
	"context"
	"net/http"
	"time"
)

// Compile-time check of the exported API other packages are written against.
var (
	_ func(Options) *Server                                                      = New
	_ func(*Server) http.Handler                                                 = (*Server).Handler
	_ func(*Server, string)                                                      = (*Server).SetWebhookURL
	_ func(*Server)                                                              = (*Server).Close
	_ func(*Server, Page)                                                        = (*Server).AddPage
	_ func(*Server, string, User)                                                = (*Server).AddUser
	_ func(*Server, string, string, string) string                               = (*Server).UserSendsText
	_ func(*Server, string, string, map[string]any) string                       = (*Server).UserSends
	_ func(*Server, string, string, string, time.Time) Event                     = (*Server).NewTextEvent
	_ func(*Server, ...Entry)                                                    = (*Server).Enqueue
	_ func(*Server, context.Context, ...Entry) (int, string, error)              = (*Server).DeliverOnce
	_ func(*Server, []byte) (string, string)                                     = (*Server).Sign
	_ func([]byte) []byte                                                        = EscapeUnicode
	_ func(*Server, context.Context) error                                       = (*Server).WaitDelivered
	_ func(*Server) int                                                          = (*Server).Pending
	_ func(*Server) []Attempt                                                    = (*Server).Attempts
	_ func(*Server, string, string) []SentMessage                                = (*Server).Sent
	_ func(*Server, context.Context, string, string, int) ([]SentMessage, error) = (*Server).WaitForSent
	_ func(*Server, Fault)                                                       = (*Server).InjectFault
	_ func(*Server)                                                              = (*Server).ClearFaults
	_ func(*Server, func() time.Time)                                            = (*Server).SetNow
	_ func(*Server, time.Duration)                                               = (*Server).AdvanceClock
	_ func(*Server) bool                                                         = (*Server).Disabled
	_ func(*Server, string, string, ...Media) string                             = (*Server).UserSendsMedia
	_ func(*Server, string) string                                               = (*Server).MediaURL
	_ func(*Server, Media) (map[string]any, string)                              = (*Server).NewMediaAttachment
	_ func(*Server, string) bool                                                 = (*Server).DeleteMedia
	_ func(*Server, string) []SentMedia                                          = (*Server).SentMedia
	_ func(*Server, string)                                                      = (*Server).SetPublicURL
	_ func(*Server, string, bool)                                                = (*Server).SetConversationRouting
	_ func(*Server, string, bool)                                                = (*Server).SetTakeoverAllowed
	_ func(*Server, string, string)                                              = (*Server).SetDefaultApp
	_ func(*Server, string) RoutingSettings                                      = (*Server).Routing
	_ func(*Server, string, string) (string, time.Time)                          = (*Server).ThreadOwner
	_ func(*Server, string, string) []ThreadControlCall                          = (*Server).ThreadControlCalls
	_ func(*Server, string, string, string, string) error                        = (*Server).OtherAppTakes
	_ func(*Server, string, string, string, string, string) error                = (*Server).OtherAppPasses
	_ func(*Server, string, string, string, string) error                        = (*Server).OtherAppRequests
	_ func(*Server, string, string, string, string) error                        = (*Server).OtherAppReleases
	_ func(*Server, string, string) string                                       = (*Server).ConversationID
	_ func(*Server, string, string) []ConversationMessage                        = (*Server).ConversationMessages
	_                                                                            = ConversationMessage{MID: "", FromBusiness: false, Text: "", At: time.Time{}}
	_                                                                            = Options{ConversationsRatePerSec: 0}
	_                                                                            = Media{Type: "", ContentType: "", Name: "", Data: nil, Title: ""}
	_                                                                            = SentMessage{Media: nil, MediaType: ""}
	_                                                                            = ThreadControlCall{Action: "", AppID: "", TargetAppID: "", Metadata: "", Duration: 0, Via: "", At: time.Time{}, Error: ""}
	_                                                                            = PageInboxAppID + InstagramInboxAppID
	_ Event                                                                      = map[string]any{}
	_                                                                            = Entry{ID: "", Time: 0, Messaging: []Event{}, Standby: []Event{}}
	_                                                                            = Attempt{At: time.Time{}, Status: 0, Err: ""}
	_                                                                            = Page{PageID: "", IGAccountID: "", Username: "", Name: "", AccessToken: ""}
	_                                                                            = User{IGSID: "", Name: "", Username: ""}
	_                                                                            = Fault{Endpoint: "", Count: 0, HTTPStatus: 0, Code: 0, Subcode: 0, Message: "", Delay: 0, AfterAccept: false}
)
