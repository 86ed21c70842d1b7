package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
)

// driverConn is the writer's connection as the driver sees it: the writer
// runs its statements on it directly, without database/sql, which per
// statement would take the connection's locks, convert every argument
// (reflection for an int), and allocate the argument list and a result
// wrapper. What database/sql does for the writer's *sql.Conn is not needed:
// one goroutine, the writer's, runs every statement, one at a time, with a
// context that is never cancelled.
//
// The driver connection is the one conn holds, taken once with Raw and kept
// past Raw's callback. That is outside Raw's contract in general, but a
// *sql.Conn keeps its driver connection until it is closed, and the writer
// never uses the two at the same time: its raw writes, which use conn, run
// on the writer's goroutine between two statements, as its queries do
// (wtx.QueryRowContext, which read through database/sql).
type driverConn struct {
	conn driver.ConnPrepareContext
	// args is the argument list of the statement being run, reused: the
	// driver keeps none of it past the statement (it copies what it binds).
	args []driver.NamedValue
}

// driverStmt is a statement prepared on the driver connection.
type driverStmt interface {
	driver.Stmt
	driver.StmtExecContext
}

// rawDriverConn returns the driver connection that conn holds.
func rawDriverConn(conn *sql.Conn) (*driverConn, error) {
	var dc *driverConn
	err := conn.Raw(func(c any) error {
		pc, ok := c.(driver.ConnPrepareContext)
		if !ok {
			return fmt.Errorf("sqlite driver connection %T cannot prepare with a context", c)
		}
		dc = &driverConn{conn: pc}
		return nil
	})
	return dc, err
}

// prepare prepares query on the driver connection.
func (c *driverConn) prepare(ctx context.Context, query string) (driverStmt, error) {
	st, err := c.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	ds, ok := st.(driverStmt)
	if !ok {
		return nil, errors.Join(fmt.Errorf("sqlite driver statement %T cannot execute with a context", st), st.Close())
	}
	return ds, nil
}

// exec runs st with args, converted as database/sql converts them.
func (c *driverConn) exec(ctx context.Context, st driverStmt, args []any) (driver.Result, error) {
	// The list keeps its ordinals from one statement to the next: only the
	// values change.
	for len(c.args) < len(args) {
		c.args = append(c.args, driver.NamedValue{Ordinal: len(c.args) + 1})
	}
	nv := c.args[:len(args)]
	defer func() {
		for i := range nv {
			nv[i].Value = nil // drop the references to the arguments
		}
	}()
	for i, a := range args {
		switch a.(type) {
		case string, nil, int64:
			nv[i].Value = a // the common cases, without a call
			continue
		}
		v, err := driverValue(a)
		if err != nil {
			return nil, fmt.Errorf("sqlite store: converting argument $%d type: %w", i+1, err)
		}
		nv[i].Value = v
	}
	return st.ExecContext(ctx, nv)
}

// driverValue returns a statement argument as the driver takes it: the
// values the writer binds as they are, an int as an int64, and anything
// else through database/sql's own converter (a driver.Valuer's value, or
// the underlying value of a named type), as database/sql would.
func driverValue(a any) (driver.Value, error) {
	switch v := a.(type) {
	case nil, string, int64, bool, float64, []byte:
		return a, nil
	case int:
		return int64(v), nil
	}
	return driver.DefaultParameterConverter.ConvertValue(a)
}
