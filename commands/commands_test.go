package commands

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func str(s string) *string { return &s }

func TestStripTrigger(t *testing.T) {
	tests := []struct {
		text, trigger, want string
		ok                  bool
	}{
		{"instagram list", "", "list", true},
		{"/instagram list", "", "list", true},
		{"  Instagram   LIST ", "", "LIST", true},
		{"/instagram", "", "", true},
		{"!ig list", "!ig", "list", true},
		{"!ig", "!ig", "", true},
		{"instagrammer list", "", "", false}, // not a word boundary
		{"hello instagram list", "", "", false},
		{"good morning", "", "", false},
		{"!igloo", "!ig", "", false},
	}
	for _, tt := range tests {
		got, ok := StripTrigger(tt.text, tt.trigger)
		require.Equal(t, tt.ok, ok, tt.text)
		require.Equal(t, tt.want, got, tt.text)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		line string
		want Command
	}{
		{"", Command{Name: Help}},
		{"help", Command{Name: Help}},
		{"HELP me", Command{Name: Help}},
		{"authorize", Command{Name: Authorize}},
		{"unauthorize", Command{Name: Unauthorize}},
		{"uninstall", Command{Name: Unauthorize}},
		{"list", Command{Name: List}},
		{"subscribe 102030405060708", Command{Name: Subscribe, Page: "102030405060708"}},
		{"unsubscribe @casaazul.store", Command{Name: Unsubscribe, Page: "casaazul.store"}},
		{`edit casaazul.store department=Sales welcome="Olá! Como podemos ajudar?"`, Command{Name: Edit, Page: "casaazul.store",
			Edit: PageEdit{Department: str("Sales"), Welcome: str("Olá! Como podemos ajudar?")}}},
		{`edit 1020 finished_message="Bye \"friend\"" offline=""`, Command{Name: Edit, Page: "1020",
			Edit: PageEdit{Finished: str(`Bye "friend"`), Offline: str("")}}},
		{"edit 1020 welcome=“Typographic quotes”", Command{Name: Edit, Page: "1020", Edit: PageEdit{Welcome: str("Typographic quotes")}}},
		{"settings", Command{Name: Settings, Settings: map[string]string{}}},
		{"settings unsend_action=DELETE file_upload_enabled=0", Command{Name: Settings,
			Settings: map[string]string{"unsend_action": "delete", "file_upload_enabled": "false"}}},
		{`settings handover_metadata="two words"`, Command{Name: Settings, Settings: map[string]string{"handover_metadata": "two words"}}},
		// The original app's shortcuts and labels.
		{"edit casaazul.store", Command{Name: Edit, Page: "casaazul.store", ShowPage: true}},
		{"EDIT 102030405060708", Command{Name: Edit, Page: "102030405060708", ShowPage: true}},
		{`edit 1020 "Welcome Message"="Olá!" "Conversation Finished Message"=Tchau "Default message for offline service"="Já voltamos" Department=Vendas`,
			Command{Name: Edit, Page: "1020", Edit: PageEdit{Department: str("Vendas"), Welcome: str("Olá!"), Finished: str("Tchau"), Offline: str("Já voltamos")}}},
		{`settings "Agents Display Name"=Username "Instagram Handover Protocol Action"="Take Thread Control" "Maximum File Size"=10MB`,
			Command{Name: Settings, Settings: map[string]string{"agent_display_name": "username", "handover_action": "take", "max_upload_bytes": "10485760"}}},
		{"console", Command{Name: Console}},
		{"setup", Command{Name: Setup}},
		{"doctor", Command{Name: Doctor}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := Parse(tt.line)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		line string
		want []string // substrings of the error
	}{
		{"frobnicate", []string{"Unknown command `frobnicate`", "instagram help"}},
		{"subscibe 1", []string{"Did you mean `instagram subscribe`?"}},
		{"authorize now", []string{"takes no arguments", "Usage: `instagram authorize`"}},
		{"list all", []string{"takes no arguments"}},
		{"subscribe", []string{"exactly one page", "instagram subscribe <pageId|username>"}},
		{"unsubscribe 1 2", []string{"exactly one page"}},
		{"edit", []string{"needs a page"}},
		{"console now", []string{"takes no arguments"}},
		{"edit 1020 welcome=a \"Welcome Message\"=b", []string{"given twice"}},
		{"edit 1020 " + `welcome="` + strings.Repeat("é", 501) + `" offline="` + strings.Repeat("x", 1001) + `"`, []string{"Nothing was changed", "Welcome Message (`welcome`) is 1002 bytes", "Default message for offline service (`offline`) is 1001 bytes"}},
		{"settings agent_display_name=name \"Agents Display Name\"=none", []string{"agent_display_name is given twice"}},
		{`edit welcome="hi"`, []string{"first argument must be a page ID"}},
		{"edit 1020 color=red", []string{"Unknown field `color`"}},
		{"edit 1020 welcome", []string{"not of the form key=value"}},
		{"edit 1020 welcome=a welcome=b", []string{"given twice"}},
		{"edit 1020 welcome=a welcome_message=b", []string{"given twice"}},
		{`edit 1020 welcome="unterminated`, []string{"closing quote"}},
		{"edit 1020 welcome=" + strings.Repeat("é", 501), []string{"1002 bytes", "at most 1000"}},
		{"edit 1020 department=\"a\nb\"", []string{"one line"}},
		{"settings nonsense=1", []string{"Nothing was changed", `unknown setting "nonsense"`}},
		{"settings unsend_action=explode max_upload_bytes=-1", []string{"unsend_action must be one of", "max_upload_bytes must be a number of bytes from 1 to"}},
		{"settings unsend_action", []string{"not of the form key=value"}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			_, err := Parse(tt.line)
			require.Error(t, err)
			var ce *Error
			require.ErrorAs(t, err, &ce)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestTokenize(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a  b\tc", []string{"a", "b", "c"}},
		{`k="v w" x`, []string{"k=v w", "x"}},
		{`"" x`, []string{"", "x"}},
		{`a\b`, []string{`a\b`}}, // backslashes matter only inside quotes
		{`"a\\b\"c"`, []string{`a\b"c`}},
		{"k=«guillemets ok»", []string{"k=guillemets ok"}},
	}
	for _, tt := range tests {
		got, err := tokenize(tt.in)
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
}

func TestHelpMentionsEveryCommand(t *testing.T) {
	h := HelpText()
	for _, name := range names {
		require.Contains(t, h, "`instagram "+name)
	}
	require.Contains(t, h, "unsend_action")
}

func TestChangesNeedPermission(t *testing.T) {
	for line, want := range map[string]bool{
		"list": false, "help": false, "settings": false, "doctor": false, "setup": false, "edit casaazul.store": false,
		"settings unsend_action=keep": true, "edit casaazul.store welcome=hi": true, "console": true,
		"authorize": true, "unauthorize": true, "subscribe 1": true, "unsubscribe 1": true,
	} {
		cmd, err := Parse(line)
		require.NoError(t, err, line)
		require.Equal(t, want, cmd.Changes(), line)
	}
}

func TestMatchDepartment(t *testing.T) {
	deps := []Department{{ID: "dept-ig", Name: "Instagram", Enabled: true}, {ID: "dept-web", Name: "Website"}, {ID: "d3", Name: "Sales"}, {ID: "d4", Name: "SALES"}}
	for typed, want := range map[string]string{"Instagram": "dept-ig", "dept-web": "dept-web", "instagram": "dept-ig", "Sales": "d3", "SALES": "d4"} {
		d, err := MatchDepartment(typed, deps)
		require.NoError(t, err, typed)
		require.Equal(t, want, d.ID, typed)
	}
	for typed, msg := range map[string]string{"Instagarm": "no department `Instagarm`", "sales": "no department `sales`"} {
		_, err := MatchDepartment(typed, deps)
		require.ErrorContains(t, err, msg)
		require.ErrorContains(t, err, "`Instagram`, `Website`")
	}
	_, err := MatchDepartment("Instagram", nil)
	require.ErrorContains(t, err, "no departments at all")
}
