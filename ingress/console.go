package ingress

import (
	"context"

	"github.com/igdirect/bridge/commands"
	"github.com/igdirect/bridge/ingress/console"
	"github.com/igdirect/bridge/ingress/doctor"
	"github.com/igdirect/bridge/setupguide"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// The web console (package console) on the public listener, under PUBLIC_URL/console.
// Admins open it from Rocket.Chat (the sign-in link of `instagram console`, the buttons of
// the setup message) in their own browsers, which reach PUBLIC_URL but not ADMIN_ADDR; the
// session, the CSRF tokens and the one-time links protect it there. Every change goes
// through the operations the commands and the admin API use (admin_ops.go), so the three
// validate alike and log who made each change.

// newConsole builds the console for a server with a database.
func (s *Server) newConsole() *console.Console {
	proxies, _ := s.cfg.TrustedProxyPrefixes() // checked by ValidateIngress
	return console.New(console.Options{
		PublicURL: s.cfg.PublicURL, AdminToken: s.cfg.AdminAPIToken, SetupChannel: s.cfg.SetupChannel(),
		CommandsEnabled: s.cfg.RocketChatCommandToken.Value() != "", TrustedProxies: proxies, Log: s.log,
	}, consoleBackend{s}, s.store)
}

// consoleBackend gives the console the administration operations.
type consoleBackend struct{ s *Server }

func (b consoleBackend) Accounts(ctx context.Context) ([]console.Account, error) {
	return b.s.accounts(ctx)
}

func (b consoleBackend) Page(ctx context.Context, ref string) (store.Page, error) {
	return b.s.findPage(ctx, ref)
}

func (b consoleBackend) Departments(ctx context.Context) ([]workflows.Department, error) {
	return b.s.departments(ctx)
}

func (b consoleBackend) EditPage(ctx context.Context, ref string, e commands.PageEdit, who string) (store.Page, error) {
	return b.s.editPageConfig(ctx, ref, e, who)
}

func (b consoleBackend) SetSubscription(ctx context.Context, ref string, subscribe bool, who string) (store.Page, error) {
	return b.s.setSubscription(ctx, ref, subscribe, who)
}

func (b consoleBackend) Authorize(ctx context.Context, who string) (console.Authorization, error) {
	res, err := b.s.authorize(ctx, who, "")
	return console.Authorization{URL: res.URL, ExpiresAt: res.ExpiresAt, Pending: res.Pending}, err
}

func (b consoleBackend) Uninstall(ctx context.Context, who string) (workflows.UnauthorizeResult, error) {
	return b.s.unauthorize(ctx, who)
}

func (b consoleBackend) Settings(ctx context.Context) ([]console.Setting, error) {
	return b.s.settings(ctx)
}

func (b consoleBackend) UpdateSettings(ctx context.Context, values map[string]string, who string) ([]console.Setting, error) {
	return b.s.updateSettings(ctx, values, who)
}

func (b consoleBackend) Attention(ctx context.Context) ([]doctor.Conversation, error) {
	return b.s.attention(ctx, "", 200)
}

func (b consoleBackend) Doctor(ctx context.Context) (doctor.Report, error) { return b.s.doctor(ctx) }

func (b consoleBackend) MayChange(ctx context.Context, userID, username string) error {
	return b.s.mayChange(ctx, userID, username)
}

func (b consoleBackend) SignOutEverywhere(ctx context.Context, who string) (store.EndedSessions, error) {
	return b.s.signOutEverywhere(ctx, who)
}

func (b consoleBackend) SetupFacts(ctx context.Context) (setupguide.Facts, error) {
	return b.s.setupFacts(ctx)
}
