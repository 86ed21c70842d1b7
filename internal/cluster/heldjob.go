package cluster

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/riverqueue/river/rivershared/uniquestates"
)

// heldJobsSQL inserts the held-back jobs of eager runs (see eager) as
// River's InsertManyTx inserts them (the row River's pinned version writes
// for RunArgs with a ScheduledAt: same unique key and states, priority,
// metadata and tags), in the create's first batch instead of a round trip
// of its own. It returns each inserted job's ID with its run's ID. A job
// whose unique key a live job holds already is not inserted: its run gets
// no ID and the create fails.
//
// newStore qualifies its tables with the store's schema.
const heldJobsSQL = `INSERT INTO {schema}.river_job (args, created_at, kind, max_attempts, metadata, priority, queue,
	scheduled_at, state, tags, unique_key, unique_states)
SELECT t.args, now(), $4, $5, '{}', $6, $7, t.scheduled_at, 'scheduled', '{}', t.unique_key, $8::integer::bit(8)
FROM unnest($1::jsonb[], $2::timestamptz[], $3::bytea[]) AS t(args, scheduled_at, unique_key)
ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND unique_states IS NOT NULL
	AND {schema}.river_job_state_in_bitmask(unique_states, state) DO NOTHING
RETURNING id, args->>'run_id' AS run`

// heldJobsCheckedSQL is heldJobsSQL as a statement that fails, writing
// nothing, unless it inserts all $9 jobs: a one-row aggregate over the
// insert's rows divides by zero otherwise. Its result is the first column
// of every row (PostgreSQL leaves out a subquery's column that nothing
// reads, so the check would not run), and the inserted rows are joined to
// it, so there is a row even when none was inserted. It is for a batch
// that carries its own transaction (see Store.createFast).
const heldJobsCheckedSQL = `WITH j AS (` + heldJobsSQL + `)
SELECT c.ok, j.id, j.run FROM (SELECT 1 / (count(*) = $9::bigint)::int AS ok FROM j) c LEFT JOIN j ON true`

// jobPriority is the priority River gives a job that names none.
const jobPriority = 1

// uniqueStates is the unique_states of a run's job: liveStates as River's
// bitmask.
var uniqueStates = int32(uniquestates.UniqueStatesToBitmask(liveStates))

// uniqueKey returns the unique_key River computes for a run's job with
// args (RunArgs.InsertOpts: by kind and by the arguments tagged unique,
// run_id and wake, the empty wake left out as River leaves out a field its
// JSON omits).
func uniqueKey(args RunArgs) ([]byte, error) {
	id, err := json.Marshal(args.RunID)
	if err != nil {
		return nil, err
	}
	key := `&kind=` + JobKind + `&args={"run_id":` + string(id)
	if args.Wake != "" {
		wake, err := json.Marshal(args.Wake)
		if err != nil {
			return nil, err
		}
		key += `,"wake":` + string(wake)
	}
	sum := sha256.Sum256([]byte(key + `}`))
	return sum[:], nil
}

// queueHeldJobs queues on b, the batch of a create transaction after the
// statements that create reqs' runs, the insert of their held-back jobs,
// due lease after now, and sets each req's jobID when the batch's results
// are read. Its callback fails when a job was not inserted, and the
// caller must then roll the transaction back.
func (s *Store) queueHeldJobs(b *pgx.Batch, reqs []*createReq) error {
	return s.queueHeldJobsSQL(b, reqs, false)
}

// queueHeldJobsSQL is queueHeldJobs, with heldJobsCheckedSQL when checked
// is set.
func (s *Store) queueHeldJobsSQL(b *pgx.Batch, reqs []*createReq, checked bool) error {
	var (
		args   = make([][]byte, len(reqs))
		due    = make([]pgtype.Timestamptz, len(reqs))
		keys   = make([][]byte, len(reqs))
		byRun  = make(map[string]*createReq, len(reqs))
		now    = time.Now()
		insert = RunArgs{}.InsertOpts()
	)
	for i, r := range reqs {
		a := RunArgs{RunID: r.stored.ID, Workflow: r.stored.Workflow}
		var err error
		if args[i], err = json.Marshal(a); err != nil {
			return err
		}
		if keys[i], err = uniqueKey(a); err != nil {
			return err
		}
		due[i] = pgtype.Timestamptz{Time: now.Add(r.eager.lease), Valid: true}
		byRun[a.RunID] = r
		r.jobID = 0 // a try before this one may have set it
	}
	query, params := s.heldJobsSQL, []any{args, due, keys, JobKind, insert.MaxAttempts, jobPriority, insert.Queue, uniqueStates}
	if checked {
		query, params = s.heldJobsCheckedSQL, append(params, int64(len(reqs)))
	}
	b.Queue(query, params...).
		Query(func(rows pgx.Rows) error {
			var (
				ok  int32
				id  int64
				run string
			)
			dest := []any{&id, &run}
			if checked {
				dest = []any{&ok, &id, &run}
			}
			_, err := pgx.ForEachRow(rows, dest, func() error {
				if r, ok := byRun[run]; ok {
					r.jobID = id
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, r := range reqs {
				if r.jobID == 0 {
					return fmt.Errorf("create run %s: its job was not inserted", r.stored.ID)
				}
			}
			return nil
		})
	return nil
}
