package store

import (
	"context"
	"errors"
	"fmt"
)

// ResealResult counts what Reseal did.
type ResealResult struct {
	// Resealed values were made with an old key (or before key ids) and now use the
	// current one.
	Resealed int
	// Undecryptable values open with none of the configured keys: an old key was removed
	// too early. They stay as they are (the page needs `instagram authorize` again).
	Undecryptable int
}

// sealedColumns are every column holding a sealed value, with the binding each row's
// value was sealed for.
var sealedColumns = []struct {
	table, column, key string
	binding            func(key []byte) string
}{
	{"pages", "access_token", "page_id", func(k []byte) string { return string(k) }},
	{"oauth_states", "code", "state_hash", codeBinding},
	{"meta_user_tokens", "token", "state_hash", userTokenBinding},
}

// Reseal re-encrypts, with the current key, every stored secret that was sealed with an
// older one: the second step of a key rotation (README, "Rotating keys"). The worker runs
// it at every start; it is idempotent and safe to run from several processes at once (a
// row is only replaced if it still holds the value that was read).
func (s *Store) Reseal(ctx context.Context) (ResealResult, error) {
	var res ResealResult
	if s.sealer.sealOnly {
		return res, ErrSealOnly
	}
	for _, c := range sealedColumns {
		rows, err := s.db.QueryxContext(ctx, fmt.Sprintf(`SELECT %s, %s FROM %s WHERE %s IS NOT NULL`, c.key, c.column, c.table, c.column))
		if err != nil {
			return res, err
		}
		type row struct{ key, value []byte }
		var all []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.key, &r.value); err != nil {
				rows.Close()
				return res, err
			}
			all = append(all, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return res, err
		}
		for _, r := range all {
			fresh, err := s.sealer.reseal(r.value, c.binding(r.key))
			switch {
			case errors.Is(err, ErrUndecryptable):
				res.Undecryptable++
				continue
			case err != nil:
				return res, err
			case fresh == nil:
				continue
			}
			out, err := s.db.ExecContext(ctx, fmt.Sprintf(`UPDATE %s SET %s = $1 WHERE %s = $2 AND %s = $3`, c.table, c.column, c.key, c.column),
				fresh, r.key, r.value)
			if err != nil {
				return res, err
			}
			if n, _ := out.RowsAffected(); n == 1 {
				res.Resealed++
			}
		}
	}
	return res, nil
}
