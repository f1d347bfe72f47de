// Package instagram is a typed client for the parts of the Meta Graph API the
// bridge uses to talk to Instagram Direct through a Facebook Page ("Messenger
// API support for Instagram"), plus pure helpers for the webhook ingress.
//
// The wire contract is /work/shared/specs/instagram-messaging.md (section
// numbers in comments refer to it). Design rules that follow from its
// "fidelity traps":
//
//   - Errors are classified from the Graph error body (code/subcode), never
//     from the HTTP status alone (trap 26).
//   - Sends are not retried here: the Send API has no idempotency key
//     (trap 25), so retry policy belongs to the caller, which can look for
//     the echo first.
//   - Secrets (access tokens, the app secret, OAuth codes) never appear in
//     error strings; URLs in errors are redacted.
//   - Webhook parsing is strict about JSON syntax but lenient about shapes:
//     unknown keys, unknown attachment types and number/string ID drift must
//     never lose a batch (traps 5, 12, 18).
package instagram
