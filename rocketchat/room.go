package rocketchat

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// Room is a Livechat room as the visitor API reports it. ServedBy* are
// empty while the chat is queued (no agent yet).
type Room struct {
	ID, DepartmentID, ServedByID, ServedByUsername string
	Open                                           bool
}

type wireRoom struct {
	ID           string `json:"_id"`
	DepartmentID string `json:"departmentId"`
	Open         bool   `json:"open"`
	ServedBy     *struct {
		ID       string `json:"_id"`
		Username string `json:"username"`
	} `json:"servedBy"`
}

func (w wireRoom) room() Room {
	r := Room{ID: w.ID, DepartmentID: w.DepartmentID, Open: w.Open}
	if w.ServedBy != nil {
		r.ServedByID, r.ServedByUsername = w.ServedBy.ID, w.ServedBy.Username
	}
	return r
}

// Room returns the visitor's open room, creating one when there is none
// (GET livechat/room?token=, a GET with side effects — trap 6). newRoom
// tells which happened. Fails with IsNoAgentOnline when no agent can take
// the chat. No other query keys are sent: unknown keys are a 400.
func (c *Client) Room(ctx context.Context, visitorToken string) (room Room, newRoom bool, err error) {
	if visitorToken == "" {
		return Room{}, false, fmt.Errorf("%w: empty visitor token", ErrInvalidRequest)
	}
	var out struct {
		Room    wireRoom `json:"room"`
		NewRoom bool     `json:"newRoom"`
	}
	err = c.do(ctx, request{method: http.MethodGet, path: "livechat/room",
		query: url.Values{"token": {visitorToken}}, secrets: []string{visitorToken}}, &out)
	if err != nil {
		return Room{}, false, err
	}
	return out.Room.room(), out.NewRoom, nil
}

// OpenRoom returns room rid if it is still open for this visitor. It never
// creates a room; a closed or foreign rid fails with IsInvalidRoom (trap 9).
func (c *Client) OpenRoom(ctx context.Context, visitorToken, rid string) (Room, error) {
	if visitorToken == "" || rid == "" {
		return Room{}, fmt.Errorf("%w: empty visitor token or room id", ErrInvalidRequest)
	}
	var out struct {
		Room wireRoom `json:"room"`
	}
	err := c.do(ctx, request{method: http.MethodGet, path: "livechat/room",
		query: url.Values{"token": {visitorToken}, "rid": {rid}}, secrets: []string{visitorToken}}, &out)
	if err != nil {
		return Room{}, err
	}
	return out.Room.room(), nil
}

// CloseRoom closes the room as the visitor (POST livechat/room.close).
// Closing an already closed room fails with IsRoomClosed; callers that
// want idempotent closing treat that as success.
func (c *Client) CloseRoom(ctx context.Context, visitorToken, rid string) error {
	if visitorToken == "" || rid == "" {
		return fmt.Errorf("%w: empty visitor token or room id", ErrInvalidRequest)
	}
	body := struct {
		RID   string `json:"rid"`
		Token string `json:"token"`
	}{rid, visitorToken}
	return c.do(ctx, request{method: http.MethodPost, path: "livechat/room.close", body: body,
		secrets: []string{visitorToken}}, nil)
}
