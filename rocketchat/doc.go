// Package rocketchat is a typed client for the Rocket.Chat Livechat
// (visitor) REST API and the few authenticated endpoints the bridge needs,
// plus parsers for the Omnichannel webhook and outgoing-integration
// payloads.
//
// The bridge impersonates one Livechat visitor per Instagram user. The wire
// contract is /work/shared/specs/rocketchat-livechat.md (section numbers in
// comments refer to it). Points that shape this package:
//
//   - Every visitor-side failure is HTTP 400 with success:false and is told
//     apart only by errorType or the error text (traps 1–3); one *Error type
//     carries all of them and the Is* helpers match on Error.Code().
//   - Visitor registration is an upsert that can return a different token
//     (trap 4); RegisterVisitor returns the token from the response.
//   - Messages are posted with our own _id so retries are idempotent
//     (SendMessage resolves the duplicate-key rejection of a retry).
//   - Credentials (auth token, visitor tokens) never appear in error strings.
package rocketchat
