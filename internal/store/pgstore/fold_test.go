package pgstore

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFoldNumbersEachPartsParameters: a fold's parts keep their own
// parameters, numbered after the parts before them, and only the parts
// that must change a row are checked.
func TestFoldNumbersEachPartsParameters(t *testing.T) {
	t.Parallel()
	got := fold([]foldPart{
		{sql: `UPDATE a SET x = $2 WHERE id = $1 RETURNING 1`, params: 2, must: true},
		{sql: `INSERT INTO b VALUES ($1, $10)`, params: 10},
		{sql: `UPDATE c SET y = $1 RETURNING 1`, params: 1, must: true},
	})
	require.Equal(t, `WITH f0 AS (UPDATE a SET x = $2 WHERE id = $1 RETURNING 1),
f1 AS (INSERT INTO b VALUES ($3, $12)),
f2 AS (UPDATE c SET y = $13 RETURNING 1)
SELECT 1 / (SELECT count(*) FROM f0) / (SELECT count(*) FROM f2)`, got)
}
