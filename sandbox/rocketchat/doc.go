// Package rocketchat is an in-process emulator of Rocket.Chat's
// Livechat/Omnichannel REST API and Omnichannel webhooks, written from
// /work/shared/specs/rocketchat-livechat.md (7.x wire behaviour unless a
// section says otherwise).
//
// Served by Handler():
//
//	/api/v1/livechat/visitor            POST; GET/DELETE …/visitor/:token
//	/api/v1/livechat/room               GET (get-or-create), POST room.close, POST room.closeByUser (auth)
//	/api/v1/livechat/message            POST; GET/PUT/DELETE …/message/:_id; GET messages.history/:rid; POST messages (auth, bulk)
//	/api/v1/livechat/upload/:rid        POST multipart (x-visitor-token)
//	/api/v1/livechat/config             GET
//	/api/v1/livechat/agent.info/:rid/:token, agent.next/:token
//	/api/v1/livechat/department[/:_id[/agents]]  GET (auth)
//	/api/v1/livechat/webhook.test, livechat/integrations.settings, omnichannel/integrations (auth)
//	/api/v1/login, logout, me, chat.postMessage
//	SendCommand (Go) / POST /sandbox/commands   outgoing WebHook integration, event "Message Sent" (§12)
//	/file-upload/:fileId/:name          downloads
//	/sandbox/…                          JSON control API (see controlHandler)
//
// Envelope: 200 {…,"success":true}; handler errors are 400 with the two
// error-string styles (plain Error → {"error":"invalid-token"}; Meteor.Error →
// {"error":"<reason> [<code>]","errorType":"<code>"}); 401/403/429 bodies as in
// spec §2. JSON bodies are parsed only with an application/json Content-Type.
//
// Webhooks are sent asynchronously (one goroutine per event, so they can
// reorder), success is exactly HTTP 200, the response body is kept as the
// room's crmData and echoed in later payloads, and only network errors, 5xx
// and 429 are retried (up to 5 attempts, 4×timeout apart).
//
// Choices where the spec is silent or uncertain are marked "Spec gap:" in the
// code. The main ones:
//   - POST livechat/message with an existing _id → 400 {"error":"E11000 duplicate key error …"} (no errorType).
//   - ajv coercion: numbers/booleans/null given for string fields are coerced, not rejected.
//   - SetDown closes the connection without answering (clients see EOF/reset); /sandbox keeps working.
//   - Unknown REST routes → 404 {"success":false,"error":"Resource not found"}.
//   - The livechat-close system message sends no separate Message webhook unless WebhookEvents.OnCloseMessage.
//   - Queued rooms are not auto-assigned when an agent becomes available; AgentSend on a queued room takes it.
//   - Fallback departments: the room is created directly in the fallback department, no Forwarded webhook.
//   - Visitor custom fields: Options.VisitorCustomFields nil accepts every key.
//   - Deleted messages free their _id (as a Mongo delete would) but stay in Messages() flagged Deleted.
//   - File JWTs never expire; any REST user's credentials may download any file.
//   - chat.postMessage echoes `channel` without '#'; unknown targets → "[invalid-channel]".
//   - Login returns the user's configured token (no new tokens are minted).
//   - CloseRoom (Go) accepts an empty comment; POST livechat/room.closeByUser enforces it by default.
//   - /file-upload downloads have no rate limiter.
package rocketchat
