package rocketchat

import (
	"errors"
	"net/http"
)

// plainError is `throw new Error(msg)`: 400 {"success":false,"error":msg}, no errorType.
type plainError string

func (e plainError) Error() string { return string(e) }

func plainErr(msg string) error { return plainError(msg) }

// meteorError is Meteor.Error(code, reason[, details]):
// message "<reason> [<code>]" (or "[<code>]"), errorType code.
type meteorError struct {
	code, reason string
	details      any
}

func (e *meteorError) Error() string {
	if e.reason == "" {
		return "[" + e.code + "]"
	}
	return e.reason + " [" + e.code + "]"
}

func meteorErr(code, reason string) error { return &meteorError{code: code, reason: reason} }

// coreError is the MeteorError class of packages/core-services: message = code.
type coreError string

func (e coreError) Error() string { return string(e) }

// httpError is a fully formed response (401/403/429, upload `reason` failures…).
type httpError struct {
	status int
	body   obj
}

func (e *httpError) Error() string { return http.StatusText(e.status) }

func httpErr(status int, body obj) error { return &httpError{status: status, body: body} }

// errorBody maps a handler error to (status, body) exactly like ApiClass.ts' catch.
func errorBody(err error) (int, obj) {
	var he *httpError
	if errors.As(err, &he) {
		return he.status, he.body
	}
	var me *meteorError
	if errors.As(err, &me) {
		switch me.code {
		case "error-too-many-requests":
			return http.StatusTooManyRequests, obj{{"success", false}, {"error", me.Error()}}
		case "unauthorized", "error-unauthorized":
			return http.StatusForbidden, obj{{"success", false}, {"error", me.Error()}}
		}
		b := obj{{"success", false}, {"error", me.Error()}, {"errorType", me.code}}
		if me.details != nil {
			b = append(b, field{"details", me.details})
		}
		return http.StatusBadRequest, b
	}
	var ce coreError
	if errors.As(err, &ce) {
		return http.StatusBadRequest, obj{{"success", false}, {"error", string(ce)}, {"errorType", string(ce)}}
	}
	return http.StatusBadRequest, obj{{"success", false}, {"error", err.Error()}}
}

// Canned bodies.
var (
	msgLoggedIn = "You must be logged in to do this."
)

func unauthorizedErr() error {
	return httpErr(http.StatusUnauthorized, obj{{"success", false}, {"error", msgLoggedIn}, {"status", "error"}, {"message", msgLoggedIn}})
}

func forbiddenPermErr() error {
	return httpErr(http.StatusForbidden, obj{{"success", false}, {"error", "User does not have the permissions required for this action [error-unauthorized]"}})
}

func forbiddenUnauthorized() error {
	return httpErr(http.StatusForbidden, obj{{"success", false}, {"error", "unauthorized"}})
}

// failureReason is API.v1.failure({reason}): no `error` key.
func failureReason(reason string, extra ...field) error {
	b := obj{{"reason", reason}}
	b = append(b, extra...)
	b = append(b, field{"success", false})
	return httpErr(http.StatusBadRequest, b)
}

// Errors returned by the Go-side agent actions.
var (
	ErrRoomNotFound  = errors.New("rocketchat: room not found")
	ErrRoomClosed    = errors.New("rocketchat: room-closed")
	ErrAgentNotFound = errors.New("rocketchat: agent not found")
	ErrAgentOffline  = errors.New("rocketchat: error-user-is-offline")
	ErrSameAgent     = errors.New("rocketchat: error-selected-agent-room-agent-are-same")
	ErrNotServed     = errors.New("rocketchat: room has no serving agent")
	ErrDeptNotFound  = errors.New("rocketchat: department not found")
	ErrNoAgentOnline = errors.New("rocketchat: no-agent-online")
	ErrClosed        = errors.New("rocketchat: server closed")
)
