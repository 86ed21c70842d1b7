package pgstore

import (
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
)

// A checked write (see queueAlso) that is only data-modifying statements
// without CTEs of their own goes as one statement instead of several: each
// becomes a CTE of it, and its select list fails the statement, as
// failUnless does, unless each statement that must change a row returned
// one. PostgreSQL runs every data-modifying CTE once, to completion, read or
// not; they see the same snapshot, so they must not write the same rows.
// One statement costs the server one execution (a portal, a snapshot, the
// executor's start and end) where several cost one each.

// foldPart is one statement of a fold.
type foldPart struct {
	// sql is the statement, its parameters numbered from $1; when must is
	// set it ends with RETURNING 1.
	sql string
	// params is how many parameters it has ($1 to $params).
	params int
	// must fails the fold unless the statement changed a row.
	must bool
}

// paramRef matches a statement's parameter references. The statements
// folded have no $ in their literals.
var paramRef = regexp.MustCompile(`\$[0-9]+`)

// fold returns the statement that makes parts in order (see above); its
// arguments are the parts' arguments, in order.
func fold(parts []foldPart) string {
	var (
		b      strings.Builder
		checks strings.Builder
		offset int
	)
	b.WriteString("WITH ")
	for i, p := range parts {
		name := "f" + strconv.Itoa(i)
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString(name + " AS (")
		b.WriteString(paramRef.ReplaceAllStringFunc(p.sql, func(ref string) string {
			n, _ := strconv.Atoi(ref[1:])
			return "$" + strconv.Itoa(n+offset)
		}))
		b.WriteString(")")
		if p.must {
			checks.WriteString(" / (SELECT count(*) FROM " + name + ")")
		}
		offset += p.params
	}
	b.WriteString("\nSELECT 1" + checks.String())
	return b.String()
}

// Parameters of the statements folded.
const (
	updateRunParams   = 11
	startAttemptArgc  = 7
	finishAttemptArgc = 16
	indexMessageArgc  = 6
)

// startFold is the fold of updateRunSQL and startFirstAttempt: a run's
// take with its first attempt's start.
var startFold = fold([]foldPart{
	{sql: updateRunSQL + " RETURNING 1", params: updateRunParams, must: true},
	{sql: startFirstAttempt + " RETURNING 1", params: startAttemptArgc, must: true},
})

// finishFolds holds the fold of a run's update, its first attempt's finish
// and n messages' indexing, by n: a few texts, each prepared once per
// connection.
var finishFolds sync.Map // int → string

// finishFold returns the fold of updateRunSQL, finishFirstAttemptUpdate and
// n indexMessage statements.
func finishFold(n int) string {
	if q, ok := finishFolds.Load(n); ok {
		return q.(string)
	}
	parts := []foldPart{
		{sql: updateRunSQL + " RETURNING 1", params: updateRunParams, must: true},
		{sql: finishFirstAttemptUpdate, params: finishAttemptArgc, must: true},
	}
	for range n {
		parts = append(parts, foldPart{sql: indexMessage, params: indexMessageArgc})
	}
	q := fold(parts)
	finishFolds.Store(n, q)
	return q
}

// updateRunCheckedStart is how updateRunChecked starts.
const updateRunCheckedStart = "WITH u AS (UPDATE "

// foldRunUpdate replaces the statement queued last on b, the run's checked
// update (updateRunChecked, as updateRun queues it before a checked
// queueAlso), with query, its fold with the statements whose arguments are
// args. It reports false, changing nothing, when the last statement is not
// that update.
func (s *Store) foldRunUpdate(b *pgx.Batch, query string, args ...any) bool {
	n := len(b.QueuedQueries)
	if n == 0 || len(b.QueuedQueries[n-1].Arguments) != updateRunParams ||
		!strings.HasPrefix(b.QueuedQueries[n-1].SQL, updateRunCheckedStart) {
		return false
	}
	last := b.QueuedQueries[n-1]
	last.SQL = s.sql(query)
	last.Arguments = append(last.Arguments[:len(last.Arguments):len(last.Arguments)], args...)
	return true
}
