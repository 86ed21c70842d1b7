package cluster

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// openTx is a pgx.Tx on a connection whose transaction a batch began
// together with its first statements, so that BEGIN costs no round trip of
// its own (see Store.createTx): River's InsertManyTx and the store's keyed
// creates run in it as in any pgx.Tx. It does not nest. Commit or
// Rollback ends it; using it after that is an error of the caller.
type openTx struct {
	conn *pgx.Conn
}

var _ pgx.Tx = openTx{}

// errNested is returned by openTx.Begin.
var errNested = errors.New("cluster: a create transaction does not nest")

// Begin refuses: a create transaction does not nest.
func (t openTx) Begin(context.Context) (pgx.Tx, error) { return nil, errNested }

// Commit commits the transaction, or reports pgx.ErrTxCommitRollback when
// the server rolled it back instead (a statement of it had failed).
func (t openTx) Commit(ctx context.Context) error {
	tag, err := t.conn.Exec(ctx, "COMMIT")
	if err == nil && tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return err
}

// Rollback rolls the transaction back.
func (t openTx) Rollback(ctx context.Context) error {
	_, err := t.conn.Exec(ctx, "ROLLBACK")
	return err
}

// CopyFrom copies rows into a table in the transaction.
func (t openTx) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, rows pgx.CopyFromSource) (int64, error) {
	return t.conn.CopyFrom(ctx, table, columns, rows)
}

// SendBatch sends a batch in the transaction.
func (t openTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return t.conn.SendBatch(ctx, b)
}

// LargeObjects is not supported: its zero value fails every call.
func (t openTx) LargeObjects() pgx.LargeObjects { return pgx.LargeObjects{} }

// Prepare prepares a statement on the transaction's connection.
func (t openTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	return t.conn.Prepare(ctx, name, sql)
}

// Exec runs a statement in the transaction.
func (t openTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return t.conn.Exec(ctx, sql, args...)
}

// Query runs a query in the transaction.
func (t openTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return t.conn.Query(ctx, sql, args...)
}

// QueryRow runs a query of one row in the transaction.
func (t openTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return t.conn.QueryRow(ctx, sql, args...)
}

// Conn returns the transaction's connection.
func (t openTx) Conn() *pgx.Conn { return t.conn }
