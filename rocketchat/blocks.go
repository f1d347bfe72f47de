package rocketchat

import (
	"encoding/json"
	"strings"
)

// Button is a UI-kit action button of a message: its text and the value it sends.
type Button struct{ Title, Payload string }

// AgentContent is what an agent's message says: its text, and the action buttons of a
// UI-kit message (bots post those; they become Instagram quick replies). When a message has
// blocks, Rocket.Chat may put the blocks' JSON in msg (spec §10.4: msg = message.msg ||
// JSON.stringify(blocks)): the text then comes from the blocks' sections.
func AgentContent(msg string, blocks json.RawMessage) (string, []Button) {
	if len(blocks) == 0 || string(blocks) == "null" {
		return msg, nil
	}
	text, buttons := parseBlocks(blocks)
	if msg == "" || msg == string(blocks) || json.Valid([]byte(msg)) && strings.HasPrefix(strings.TrimSpace(msg), "[") {
		msg = text
	}
	return msg, buttons
}

func parseBlocks(raw json.RawMessage) (string, []Button) {
	var blocks []struct {
		Type string `json:"type"`
		Text *struct {
			Text string `json:"text"`
		} `json:"text"`
		Elements []struct {
			Type string `json:"type"`
			Text *struct {
				Text string `json:"text"`
			} `json:"text"`
			Value    string `json:"value"`
			ActionID string `json:"actionId"`
		} `json:"elements"`
	}
	if json.Unmarshal(raw, &blocks) != nil {
		return "", nil
	}
	var texts []string
	var buttons []Button
	for _, b := range blocks {
		if b.Text != nil && b.Text.Text != "" {
			texts = append(texts, b.Text.Text)
		}
		for _, e := range b.Elements {
			if e.Type == "button" && e.Text != nil {
				payload := e.Value
				if payload == "" {
					payload = e.ActionID
				}
				buttons = append(buttons, Button{Title: e.Text.Text, Payload: payload})
			}
		}
	}
	return strings.Join(texts, "\n"), buttons
}
