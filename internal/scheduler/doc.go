// Package scheduler fires Herald's cron triggers. It owns three things: cron
// timing (the fire times of a schedule in its IANA timezone, with the
// daylight-saving rules below), catch-up of fires missed while no host ran
// (the trigger's catchup policy), and the durable next-fire state of every
// cron trigger, kept in the store so a restart neither loses nor repeats a
// fire.
//
// It must not create runs itself or touch plugins. When a fire is due it calls
// Options.Fire with a Due; the caller creates the run under
// Due.IdempotencyKey, so a fire handed over twice (a retry, a restart between
// Fire and the state update, two replicas) still makes exactly one run.
//
// # Fire times and daylight saving
//
// Schedules with fields (5 fields, 6 with seconds first, and descriptors such
// as @daily and @hourly) are wall-clock schedules: they name times on the
// clock of the trigger's timezone. The scheduler evaluates them on a clock
// without daylight saving that carries the local wall time, then maps each
// wall time back into the timezone:
//
//   - A wall time inside a spring-forward gap does not exist. Its fire runs
//     once, at the first valid instant after the gap: "30 2 * * *" in
//     Europe/Berlin fires at 03:00 CEST on 2026-03-29. Several wall times of
//     one gap (as with "*/15 * * * *") and a fire at the end of the gap merge
//     into that one fire.
//   - A wall time inside a fall-back overlap happens twice. Its fire runs
//     once, at the first occurrence: "30 1 * * *" in America/New_York fires
//     at 01:30 EDT on 2026-11-01 and not again at 01:30 EST.
//
// The overlap rule holds for every schedule, so each wall-clock time fires at
// most once: "0 * * * *" in New York fires at 00:00 EDT, 01:00 EDT and then
// 02:00 EST, two real hours later, and a schedule finer than an hour pauses
// while the repeated hour replays. (Vixie cron makes the same choice for
// fixed-time jobs but replays jobs with a wildcard hour; Herald keeps one
// rule, so a daily and an hourly schedule agree about the overlap.) Schedules
// that must follow elapsed time should use "@every 1h" or timezone UTC.
//
// "@every D" schedules follow real elapsed time, D apart from the previous
// fire, and daylight saving does not affect them.
//
// # Catch-up and durable state
//
// After a fire is handed to Fire, the trigger's state (the last fire and the
// next one) is written to the store. A trigger loaded before Run starts reads
// its stored state: fires scheduled between the stored next fire and the
// start of Run were missed while no host ran, and the trigger's catchup
// policy decides their fate: skip runs none, latest runs the most recent
// once, all runs each in order, up to Options.MaxCatchup (the newest are
// kept, the dropped are logged and counted). A trigger without stored state,
// or one added by a later SetTriggers, starts from now. A host that dies
// between Fire and the state write hands the fire over again on its next
// start (unless the policy is skip), under the same idempotency key.
//
// While Run is running, a fire that comes due is handed over however late the
// scheduler woke (a loaded machine, a suspended VM). When a stall made further
// fires of the same trigger due, those follow the catchup policy as well.
package scheduler
