package workflows

import "go.temporal.io/sdk/workflow"

// Unauthorize uninstalls the bridge from Meta: it unsubscribes every page's webhooks
// (while the page tokens still work), revokes the app's permissions for every Facebook
// login that authorized it, then deletes every page token, user token and pending OAuth
// state from the database. Page configuration (department, messages) is kept, so
// authorizing again restores the same setup. A page that cannot be unsubscribed does not
// stop the uninstall: it is reported, and its token is deleted all the same.
func Unauthorize(ctx workflow.Context, in UnauthorizeInput) (UnauthorizeResult, error) {
	var res UnauthorizeResult
	var pages []ConnectedPage
	if err := workflow.ExecuteActivity(storeCtx(ctx), ActivityListConnectedPages).Get(ctx, &pages); err != nil {
		return res, err
	}
	var futures []workflow.Future
	for _, p := range pages {
		if !p.HasToken {
			continue
		}
		res.Pages = append(res.Pages, PageOutcome{PageID: p.PageID, IGUsername: p.IGUsername})
		futures = append(futures, workflow.ExecuteActivity(graphCtx(ctx), ActivityUnsubscribePage, PageRef{PageID: p.PageID}))
	}
	for i, f := range futures {
		if err := f.Get(ctx, nil); err != nil {
			res.Pages[i].Error = errorText(err)
		} else {
			res.Pages[i].Unsubscribed = true
		}
	}
	if err := workflow.ExecuteActivity(graphCtx(ctx), ActivityRevokeAuthorizations).Get(ctx, &res.Revoke); err != nil {
		res.Revoke.Failed = append(res.Revoke.Failed, errorText(err))
	}
	if err := workflow.ExecuteActivity(storeCtx(ctx), ActivityForgetTokens).Get(ctx, &res.Deleted); err != nil {
		return res, err
	}
	postSetup(ctx, unauthorizeMessage(res, in.RequestedBy))
	return res, nil
}

// PageSubscription subscribes a page's webhooks (the fields the bridge handles) or removes
// the subscription, and records the outcome on the page.
func PageSubscription(ctx workflow.Context, in PageSubscriptionInput) (SubscriptionResult, error) {
	name := ActivityUnsubscribePage
	if in.Subscribe {
		name = ActivitySubscribePage
	}
	var res SubscriptionResult
	err := workflow.ExecuteActivity(graphCtx(ctx), name, PageRef{PageID: in.PageID}).Get(ctx, &res)
	return res, err
}
